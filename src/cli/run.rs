//! `tenfold run`: run a model once, print a summary of each output, optionally save them.

use super::Report;
use super::args::{CompileArgs, FeedArgs};
use super::{feeds, summary};
use crate::error::Error;
use crate::io;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The ONNX model to run
    #[arg(value_name = "MODEL.onnx")]
    pub model: PathBuf,
    #[command(flatten)]
    pub feeds: FeedArgs,
    /// Write every graph output, keyed by its ONNX name, to this .npz file
    #[arg(long, value_name = "OUT.npz")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub compile: CompileArgs,
}

pub fn run(args: &RunArgs) -> Result<Report, Error> {
    let compiler = args.compile.compiler();
    let model = compiler.load(&args.model)?;
    let exe = compiler.compile(&model)?;
    let feeds = feeds::build(model.graph(), &args.feeds)?;
    let outputs = exe
        .run(&feeds.tensors)
        .map_err(|e| feeds::explain_run_error(e, &feeds, &args.model))?;
    if let Some(path) = &args.output {
        io::write_npz(path, &outputs)?;
    }
    let mut stdout = String::new();
    for (name, t) in &outputs {
        stdout.push_str(&summary::tensor(name, t));
    }
    if let Some(path) = &args.output {
        let plural = if outputs.len() == 1 { "" } else { "s" };
        stdout.push_str(&format!(
            "wrote {} output{plural} to {}\n",
            outputs.len(),
            path.display()
        ));
    }
    Ok(Report {
        stdout,
        notes: feeds.notes,
    })
}
