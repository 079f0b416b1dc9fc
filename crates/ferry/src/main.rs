//! The `ferry` command; all the work is in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
