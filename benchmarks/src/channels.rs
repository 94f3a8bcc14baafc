//! The baselines of the worker benchmarks: crossbeam-channel and `std::sync::mpsc` between two
//! threads, as a ping-pong and as a stream.

use crate::jobs::{tiny_work, TINY_WORK};
use crate::measure::{per_call, pin_current_thread, timed};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A channel of `u64` messages between two threads, the baseline of the worker benchmarks.
pub trait Channel: 'static {
    type Sender: Send + 'static;
    type Receiver: Send + 'static;
    fn pair() -> (Self::Sender, Self::Receiver);
    fn send(sender: &Self::Sender, message: u64);
    /// The next message, waiting for it; `None` once every sender is gone.
    fn recv(receiver: &Self::Receiver) -> Option<u64>;
}

/// crossbeam-channel, unbounded: a waiting receiver spins, then yields a few times, then parks.
pub struct Crossbeam;

impl Channel for Crossbeam {
    type Sender = crossbeam_channel::Sender<u64>;
    type Receiver = crossbeam_channel::Receiver<u64>;

    fn pair() -> (Self::Sender, Self::Receiver) {
        crossbeam_channel::unbounded()
    }

    fn send(sender: &Self::Sender, message: u64) {
        sender.send(message).expect("the receiving thread is alive");
    }

    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

/// `std::sync::mpsc`: crossbeam-channel's algorithm, ported into std in Rust 1.67, but a waiting
/// receiver spins less and never yields before it parks.
pub struct Mpsc;

impl Channel for Mpsc {
    type Sender = mpsc::Sender<u64>;
    type Receiver = mpsc::Receiver<u64>;

    fn pair() -> (Self::Sender, Self::Receiver) {
        mpsc::channel()
    }

    fn send(sender: &Self::Sender, message: u64) {
        sender.send(message).expect("the receiving thread is alive");
    }

    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

/// A thread that answers every request `x` with `x + 1`: the other end of a ping-pong.
pub struct Echo<C: Channel> {
    requests: Option<C::Sender>,
    replies: C::Receiver,
    thread: Option<JoinHandle<()>>,
}

impl<C: Channel> Echo<C> {
    /// Starts the thread, pinned to `cpu` if given.
    pub fn start(cpu: Option<usize>) -> Echo<C> {
        let (requests, inbox) = C::pair();
        let (outbox, replies) = C::pair();
        let thread = std::thread::spawn(move || {
            pin_current_thread(cpu);
            while let Some(x) = C::recv(&inbox) {
                C::send(&outbox, x + 1);
            }
        });
        Echo { requests: Some(requests), replies, thread: Some(thread) }
    }

    /// One round trip: sends `x`, waits for the reply.
    pub fn ping(&self, x: u64) -> u64 {
        C::send(self.requests.as_ref().expect("running"), x);
        C::recv(&self.replies).expect("the echo thread is alive")
    }
}

impl<C: Channel> Drop for Echo<C> {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `messages` messages to a consumer thread (pinned to `cpu` if given) that does the tiny
/// work for each; the time from the first send to the consumer's word that it did the last. The
/// thread is started and answering first.
pub fn channel_stream<C: Channel>(messages: u64, cpu: Option<usize>) -> Duration {
    let (requests, inbox) = C::pair();
    let (outbox, done) = C::pair();
    let consumer = std::thread::spawn(move || {
        pin_current_thread(cpu);
        C::send(&outbox, u64::MAX);
        while let Some(message) = C::recv(&inbox) {
            tiny_work();
            if message + 1 == messages {
                C::send(&outbox, message);
            }
        }
    });
    assert_eq!(C::recv(&done), Some(u64::MAX), "the consumer started");
    let before = TINY_WORK.load(Ordering::Relaxed);
    let (last, elapsed) = timed(|| {
        (0..messages).for_each(|message| C::send(&requests, message));
        C::recv(&done)
    });
    assert_eq!(last, Some(messages - 1));
    assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, messages, "every message handled once");
    drop(requests);
    consumer.join().expect("the consumer thread");
    elapsed
}

/// ns per round trip of `trips` round trips through `echo`.
pub fn ping_pong<C: Channel>(echo: &Echo<C>, trips: u32) -> f64 {
    per_call(trips, |i| assert_eq!(echo.ping(u64::from(i)), u64::from(i) + 1, "the echo's reply"))
}
