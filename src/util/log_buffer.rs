//! A log sink that never makes the logging thread wait for a write: lines are appended to
//! memory and written out by a background thread every [`FLUSH_INTERVAL`] — so the access log
//! at `RUST_LOG=info` costs a request a copy into a buffer, not a `write(2)` of its own (that
//! system call was about half the line's cost; docs/performance.md).
//!
//! What it trades: a line reaches stderr up to [`FLUSH_INTERVAL`] after it was logged, and a
//! process killed with SIGKILL loses at most that much log. Memory is bounded: past
//! [`MAX_BUFFERED`] bytes the logging thread writes the buffer out itself. Lines keep their
//! order, and the last ones are written when the [`Flusher`] is dropped (at the end of `main`).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a logged line may wait in memory.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Bytes kept in memory at most before the logging thread writes them out itself.
const MAX_BUFFERED: usize = 256 * 1024;

struct Shared {
    pending: Mutex<Vec<u8>>,
    /// Held while taking `pending` and writing it, so that lines leave in the order they came.
    out: Mutex<Box<dyn Write + Send>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn write_out(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.is_empty() {
            return Ok(());
        }
        out.write_all(&pending)?;
        out.flush()
    }
}

/// The sink handed to the logger (`env_logger::Target::Pipe`).
pub struct BufferedLog {
    shared: Arc<Shared>,
}

impl Write for BufferedLog {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let full = {
            let mut pending = lock(&self.shared.pending);
            pending.extend_from_slice(line);
            pending.len() >= MAX_BUFFERED
        };
        if full {
            self.shared.write_out()?;
        }
        Ok(line.len())
    }

    /// Nothing: the line leaves with the next background write (the logger flushes after
    /// every line, which is exactly the cost this sink exists to avoid).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The background writer; dropping it writes out what is left and stops the thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = self.shared.write_out();
    }
}

/// A sink writing to `out` from a background thread, and the handle that stops it.
pub fn buffered(out: impl Write + Send + 'static) -> (BufferedLog, Flusher) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Vec::with_capacity(64 * 1024)),
        out: Mutex::new(Box::new(out)),
        stop: Mutex::new(false),
        wake: Condvar::new(),
    });
    let background = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut stop = lock(&background.stop);
            while !*stop {
                stop = background
                    .wake
                    .wait_timeout(stop, FLUSH_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                // Never hold `stop` while writing: the logging side does not need it, but
                // `Flusher::drop` does.
                drop(stop);
                let _ = background.write_out();
                stop = lock(&background.stop);
            }
        })
        .ok();
    let sink = BufferedLog {
        shared: shared.clone(),
    };
    (sink, Flusher { shared, thread })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output the test can read while the writer thread writes to it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    #[test]
    fn lines_reach_the_output_without_a_flush_and_the_rest_when_the_flusher_is_dropped() {
        let out = Captured::default();
        let (mut sink, flusher) = buffered(out.clone());
        sink.write_all(b"first line\n").unwrap();
        sink.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !out.text().contains("first line") {
            assert!(Instant::now() < deadline, "the background write never came");
            std::thread::sleep(Duration::from_millis(5));
        }
        sink.write_all(b"last line\n").unwrap();
        drop(flusher);
        assert_eq!(out.text(), "first line\nlast line\n");
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_in_each_threads_order() {
        let out = Captured::default();
        let (sink, flusher) = buffered(out.clone());
        let sink = Arc::new(Mutex::new(sink));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let line = format!("thread {t} line {i:05} {}\n", "x".repeat(100));
                        lock(&sink).write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        drop(flusher);
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            8000,
            "every line, past the in-memory bound too"
        );
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .copied()
                .collect();
            let mut sorted = mine.clone();
            sorted.sort();
            assert_eq!(mine, sorted, "thread {t} out of order");
            assert!(
                mine.iter()
                    .all(|l| l.len() == "thread 0 line 00000 ".len() + 100)
            );
        }
    }
}
