//! Prints the fault matrix's figures (issue 5's closing note): for each fault × module, the run
//! time of the first faulted run (`duration_ms`) and the requests the backend received over the
//! scripted runs, with the breakers against without; then the requests received over a
//! 10-minute outage (500 on every call, a run every 5 s on a fake clock = 120 runs) through the
//! real runner, with and without breakers. Every cell's promises are asserted on the way (the
//! same driver as `tests/fault_matrix.rs`), so the table is only printed if the matrix holds.
//!
//! Run: `cargo run --example fault_table` (debug build; timings are loopback + debug code).

#[path = "../tests/support/faults.rs"]
mod faults;

use faults::{Kind, cell};
use sniper::module_id::ModuleId;

#[tokio::main]
async fn main() {
    println!(
        "module timeout {}, run deadline {}; ms = duration_ms of the first faulted run",
        faults::MODULE_TIMEOUT,
        faults::RUN_DEADLINE
    );
    println!();
    print!("| fault | class → code (etf) |");
    for m in ModuleId::ALL {
        print!(" {} ms |", m.as_str());
    }
    println!(" requests per module: breaker / none (runs) |");
    print!("|---|---|");
    for _ in ModuleId::ALL {
        print!("---:|");
    }
    println!("---|");
    let mut huge = Vec::new();
    for kind in Kind::ALL {
        let class = kind.class();
        print!(
            "| {} | {} → {} |",
            kind.name(),
            class.label(),
            class.code(ModuleId::Etf.upper())
        );
        let mut counts = Vec::new();
        for m in ModuleId::ALL {
            let c = cell(m, kind).await;
            print!(" {} |", c.first_run_ms);
            if let Some(b) = c.body_bytes_produced {
                huge.push((m, b));
            }
            let s = format!("{} / {} ({})", c.requests, c.without_breaker, c.runs);
            if !counts.contains(&s) {
                counts.push(s);
            }
        }
        println!(" {} |", counts.join(", "));
    }
    let refused = faults::origin_refused().await;
    print!("| origin refused (all modules) | transient → UPSTREAM_UNREACHABLE |");
    for (_, ms, _) in &refused {
        print!(" {ms} |");
    }
    let sent: Vec<String> = refused.iter().map(|(_, _, a)| a.to_string()).collect();
    println!(" {} / 14 (7), counted client-side |", sent[0]);
    println!();
    for (m, b) in huge {
        println!(
            "20 MB body, {}: the sandbox produced {:.1} MiB before sniper gave up (cap 8 MiB + socket buffers)",
            m.as_str(),
            b as f64 / (1024.0 * 1024.0)
        );
    }
    let (produced, code) = faults::body_not_read_to_the_end(1 << 30).await;
    println!(
        "1 GiB body, bias: {code}; the sandbox produced {:.1} MiB of it (cap 8 MiB + socket buffers)",
        produced as f64 / (1024.0 * 1024.0)
    );
    println!();
    let with = faults::outage(true).await;
    let without = faults::outage(false).await;
    println!("10-minute outage, 500 on every call, a run every 5 s (120 runs, 5 modules):");
    println!("| breakers | requests received | per module |");
    println!("|---|---:|---:|");
    println!("| on (default) | {with} | {} |", with / 5);
    println!(
        "| disabled (--breaker-disable all) | {without} | {} |",
        without / 5
    );
    println!(
        "saved: {} requests ({:.1}%)",
        without - with,
        100.0 * (without - with) as f64 / without as f64
    );
}
