//! `tenfold bench`: compile time, then the latency of repeated runs after a warmup.

use super::Report;
use super::args::{CompileArgs, FeedArgs};
use super::{feeds, summary};
use crate::compiler::{Executable, Plan};
use crate::error::Error;
use clap::Args;
use ir::Tensor;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The ONNX model to time
    #[arg(value_name = "MODEL.onnx")]
    pub model: PathBuf,
    #[command(flatten)]
    pub feeds: FeedArgs,
    /// Timed runs
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Untimed runs before the timed ones
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub warmup: u32,
    #[command(flatten)]
    pub compile: CompileArgs,
    /// After the timed runs, time each compiled kernel over as many runs and list them
    #[arg(long)]
    pub profile: bool,
    /// End the output with one line holding a JSON object of the results
    #[arg(long)]
    pub json: bool,
}

pub fn bench(args: &BenchArgs) -> Result<Report, Error> {
    let compiler = args.compile.compiler();
    let started = Instant::now();
    let model = compiler.load(&args.model)?;
    let load_ms = ms(started);
    let started = Instant::now();
    let exe = compiler.compile(&model)?;
    let compile_ms = ms(started);
    let feeds = feeds::build(model.graph(), &args.feeds)?;
    let explain = |e| feeds::explain_run_error(e, &feeds, &args.model);

    // Each run writes into the previous run's outputs, as a serving loop would
    // (`Executable::run_reusing`): what is timed is the model, not the page faults of fresh
    // output allocations.
    let mut peak_bytes = 0usize;
    let mut outputs = Vec::new();
    for _ in 0..args.warmup {
        let (out, stats) = exe.run_reusing(&feeds.tensors, outputs).map_err(explain)?;
        outputs = out;
        peak_bytes = peak_bytes.max(stats.peak_bytes);
    }
    let mut times = Vec::with_capacity(args.runs as usize);
    for _ in 0..args.runs {
        let started = Instant::now();
        let (out, stats) = exe.run_reusing(&feeds.tensors, outputs).map_err(explain)?;
        times.push(ms(started));
        outputs = out;
        peak_bytes = peak_bytes.max(stats.peak_bytes);
    }
    times.sort_by(f64::total_cmp);
    let median_ms = median(&times);
    let (min_ms, max_ms) = (times[0], times[times.len() - 1]);
    let mean_ms = times.iter().sum::<f64>() / times.len() as f64;

    let mut stdout = format!(
        "model:    {}\n\
         target:   {} ({} thread{}, -O{})\n\
         load:     {load_ms:.3} ms\n\
         compile:  {compile_ms:.3} ms\n\
         runs:     {} (after {} warmup)\n\
         median:   {median_ms:.3} ms  (min {min_ms:.3} ms, max {max_ms:.3} ms, mean {mean_ms:.3} ms)\n\
         peak mem: {}\n",
        args.model.display(),
        exe.target(),
        exe.threads(),
        if exe.threads() == 1 { "" } else { "s" },
        args.compile.opt_level,
        args.runs,
        args.warmup,
        summary::bytes(peak_bytes as u64),
    );
    let profile = if args.profile {
        Some(profile(&exe, &feeds.tensors, args.runs).map_err(explain)?)
    } else {
        None
    };
    if let Some((text, _)) = &profile {
        stdout.push_str(text);
    }
    if args.json {
        let mut json = json!({
            "model": args.model.display().to_string(),
            "target": exe.target().name(),
            "threads": exe.threads(),
            "opt_level": exe.opt_level() as u8,
            "load_ms": load_ms,
            "compile_ms": compile_ms,
            "median_ms": median_ms,
            "min_ms": min_ms,
            "max_ms": max_ms,
            "mean_ms": mean_ms,
            "runs": args.runs,
            "warmup": args.warmup,
            "peak_bytes": peak_bytes,
        });
        if let Some((_, kernels)) = profile {
            json["kernels"] = kernels;
        }
        stdout.push_str(&json.to_string());
        stdout.push('\n');
    }
    Ok(Report {
        stdout,
        notes: feeds.notes,
    })
}

/// Times each kernel over `runs` runs: a table (program order, as `info --plan` numbers them)
/// and its JSON (`null` when the run is not compiled).
fn profile(
    exe: &Executable,
    feeds: &HashMap<String, Tensor>,
    runs: u32,
) -> Result<(String, Json), Error> {
    let plan = exe.plan(feeds)?;
    let program = match &*plan {
        Plan::Compiled(c) => c.program(),
        Plan::Interpreted(why) => {
            return Ok((
                format!("kernels:  none timed: the interpreter runs this model ({why})\n"),
                Json::Null,
            ));
        }
    };
    let mut per_kernel: Vec<Vec<f64>> = vec![Vec::new(); program.kernels.len()];
    let mut walls = Vec::with_capacity(runs as usize);
    let mut outputs = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let run = exe.run_profiled(feeds, outputs)?;
        walls.push(ms(started));
        outputs = run.outputs;
        for (samples, t) in per_kernel
            .iter_mut()
            .zip(run.kernel_times.unwrap_or_default())
        {
            samples.push(t.as_secs_f64() * 1e3);
        }
    }
    walls.sort_by(f64::total_cmp);
    let wall = median(&walls);
    let medians: Vec<f64> = per_kernel
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            if s.is_empty() { 0.0 } else { median(s) }
        })
        .collect();
    let in_kernels: f64 = medians.iter().sum();
    let share = |t: f64| if wall > 0.0 { 100.0 * t / wall } else { 0.0 };
    let mut text = format!(
        "kernels:  {} (median of {runs} profiled runs: {wall:.3} ms a run, {:.0}% in kernels)\n",
        program.kernels.len(),
        share(in_kernels)
    );
    let _ = writeln!(
        text,
        "  {:>3} {:<9} {:>9} {:>6}  nodes",
        "#", "kind", "ms", "share"
    );
    for (i, (k, &t)) in program.kernels.iter().zip(&medians).enumerate() {
        let _ = writeln!(
            text,
            "  {i:>3} {:<9} {t:>9.3} {:>5.1}%  {}",
            k.kind.label(),
            share(t),
            k.nodes.join(" + ")
        );
    }
    let _ = writeln!(
        text,
        "      {:<9} {:>9.3} {:>5.1}%  (output allocation, argument checks, dispatch)",
        "other",
        (wall - in_kernels).max(0.0),
        share((wall - in_kernels).max(0.0))
    );
    let json = Json::Array(
        program
            .kernels
            .iter()
            .zip(&medians)
            .map(|(k, &t)| json!({ "kind": k.kind.label(), "nodes": k.nodes, "median_ms": t }))
            .collect(),
    );
    Ok((text, json))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The median of sorted, non-empty samples.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if !n.is_multiple_of(2) {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), 3.0);
    }
}
