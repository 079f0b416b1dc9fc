//! `ferry serve-plaintext`: a calibration target for ferry itself.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one and prints it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Worker threads.
    #[arg(short = 't', long, default_value_t = 1)]
    pub threads: usize,
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    ferry::serve::serve_plaintext(args.addr, args.threads).map(|()| ExitCode::SUCCESS)
}
