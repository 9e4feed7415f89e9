//! The `tenfold` command-line tool; everything lives in [`tenfold::cli`].

fn main() {
    std::process::exit(tenfold::cli::main());
}
