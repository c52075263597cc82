//! One access-log line at `RUST_LOG=info`, the way the server writes it, into a file (as when
//! stderr goes to a file or a pipe): straight from the logger, one `write(2)` per line (how the
//! first pass wrote it), against through `util::log_buffer` (a copy into memory, written out in
//! bulk by a background thread).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use log::Log;
use todo_connect::util::log_buffer;

fn logger(target: env_logger::Target) -> env_logger::Logger {
    env_logger::Builder::new()
        .parse_filters("info")
        .format_timestamp_millis()
        .write_style(env_logger::WriteStyle::Never)
        .target(target)
        .build()
}

fn log_line(logger: &env_logger::Logger) {
    logger.log(
        &log::Record::builder()
            .target("todo_connect::access")
            .level(log::Level::Info)
            .args(format_args!(
                "{} {} {} {:.2}ms",
                "GET",
                black_box("/confluence/get_task"),
                200,
                0.123_f64
            ))
            .build(),
    );
}

fn access_log(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
    let mut group = c.benchmark_group("access_log");

    let direct = logger(env_logger::Target::Pipe(Box::new(file("direct.log"))));
    group.bench_function("line_write_per_line", |b| b.iter(|| log_line(&direct)));

    let (sink, flusher) = log_buffer::buffered(file("buffered.log"));
    let buffered = logger(env_logger::Target::Pipe(Box::new(sink)));
    group.bench_function("line_buffered", |b| b.iter(|| log_line(&buffered)));
    drop(flusher);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = access_log
}
criterion_main!(benches);
