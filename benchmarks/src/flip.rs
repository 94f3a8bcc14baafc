//! Flip latency between two processes: a writer publishes a message, a reader in another process
//! observes it, and the time between the writer's clock just before it publishes and the reader's
//! clock once it holds the message is one sample.
//!
//! The writer is the process that calls [`Writer::start`]; the reader is the same executable run
//! again with `--peer flip ...` ([`reader_main`]), pinned to CPU 1 where the writer pins itself to
//! CPU 0. One reader serves every transport for one payload size:
//!
//! - a floe segment slot: the writer's `Segment::publish` of a message graph; the reader spins on
//!   `Segment::change_count` (`FloeSpin`) or sleeps in `Segment::wait_for_change` (`FloeWait`),
//!   then attaches the new version (`segments::attach`) and reads the root's first element;
//! - iceoryx2's publish-subscribe with `[u8]` payloads: the writer loans a sample, copies the
//!   payload's bytes into it and sends it; the reader spins on `Subscriber::receive` and reads the
//!   sample's first 8 bytes;
//! - a Unix domain stream socket: the writer encodes the message graph (`segments::encode`) and
//!   writes it; the reader reads all of it and decodes it into floe heap objects
//!   (`segments::decode`) before it reads the root's first element.
//!
//! Each message carries its sequence number (the root's first element; the sample's first 8
//! bytes), which the reader checks. The writer builds each message graph before it reads the
//! clock; publishing, encoding and copying into the loan come after.
//!
//! Messages go one at a time: the reader, once it holds a message, writes a 24-byte record (the
//! sequence number, its clock when the message arrived — the slot changed, the sample came, the
//! last byte was read — and its clock once it held the message's first element) on its standard
//! output and starts waiting for the next; the
//! writer reads the record, lets `GAP` pass so that the reader is back in its wait, then sends the
//! next. Before the first message of a round the reader writes a ready record. A round is started
//! by a 5-byte command on the reader's standard input (the transport, the number of messages); the
//! reader ends at the end of its input.

use crate::measure::{cpu_count, pin_current_thread};
use crate::segments::{attach, decode, encode, monotonic_ns, OwnedSegment, Payload};
use floe::{Runtime, Segment};
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use std::error::Error;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

type Fallible<T> = std::result::Result<T, Box<dyn Error>>;

/// How long the writer waits after the reader's record before it sends the next message.
const GAP: Duration = Duration::from_micros(50);
/// How long a reader waits for one message, and the writer for the reader to start, before giving up.
const PATIENCE: Duration = Duration::from_secs(20);
/// The sequence number of a ready record.
const READY: u64 = u64::MAX;

/// One message's times, in ns.
#[derive(Clone, Copy, Debug)]
pub struct Flip {
    /// From the writer's clock before it sends to the reader's once it holds the first element.
    pub latency: f64,
    /// The writer's send: publish; loan, copy and send; encode and write.
    pub send: f64,
    /// The reader's part after the message arrived: the attach, the copy out of the sample, the
    /// decode; and the read of the first element.
    pub attach: f64,
}

/// How a message goes from the writer to the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A floe segment slot; the reader spins on the slot's change count.
    FloeSpin,
    /// A floe segment slot; the reader waits in `wait_for_change` (asleep on a futex once its
    /// spinning is over).
    FloeWait,
    /// iceoryx2 publish-subscribe; the reader spins on `receive`.
    Iceoryx2,
    /// A Unix domain stream socket; the reader blocks in `read`.
    Socket,
}

impl Transport {
    pub const ALL: [Transport; 4] = [Transport::FloeSpin, Transport::FloeWait, Transport::Iceoryx2, Transport::Socket];

    fn code(self) -> u8 {
        match self {
            Transport::FloeSpin => b's',
            Transport::FloeWait => b'w',
            Transport::Iceoryx2 => b'i',
            Transport::Socket => b'u',
        }
    }

    fn from_code(code: u8) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// The names both processes use for one payload size.
struct Names {
    segment: String,
    service: String,
    /// iceoryx2's root directory (its config's `global.root_path`), this run's own.
    iceoryx2_root: PathBuf,
    socket: PathBuf,
    bytes: usize,
}

impl Names {
    fn args(&self) -> Vec<String> {
        vec![
            self.segment.clone(),
            self.service.clone(),
            self.iceoryx2_root.display().to_string(),
            self.socket.display().to_string(),
            self.bytes.to_string(),
        ]
    }

    fn from_args(args: &[String]) -> Option<Names> {
        let [segment, service, root, socket, bytes] = args else { return None };
        Some(Names {
            segment: segment.clone(),
            service: service.clone(),
            iceoryx2_root: root.into(),
            socket: socket.into(),
            bytes: bytes.parse().ok()?,
        })
    }
}

/// iceoryx2's config with its files under `root` instead of the system-wide default directory.
fn iceoryx2_config(root: &std::path::Path) -> Fallible<Config> {
    let mut config = Config::default();
    let mut dir = root.as_os_str().as_bytes().to_vec();
    if dir.last() != Some(&b'/') {
        dir.push(b'/');
    }
    config.global.set_root_path(&Path::new(&dir)?);
    Ok(config)
}

/// The iceoryx2 ports of the writer. Fields drop in order: the port, then its service and node.
struct Iceoryx2Writer {
    publisher: Publisher<ipc::Service, [u8], ()>,
    _service: iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, [u8], ()>,
    _node: Node<ipc::Service>,
}

/// The writer's end of the flips of one payload size, with the reader process it started. Dropping
/// it ends the reader, unlinks the segment and removes the socket and iceoryx2's directory.
pub struct Writer {
    reader: Child,
    /// The reader's input; `None` once closed.
    commands: Option<ChildStdin>,
    records: ChildStdout,
    iceoryx2: Iceoryx2Writer,
    socket: UnixStream,
    owned: OwnedSegment,
    payload: Payload,
    names: Names,
    encoded: Vec<u8>,
    seq: u64,
}

impl Writer {
    /// Creates the segment, the iceoryx2 service and the socket for payloads of `bytes` bytes, and
    /// starts the reader process (this executable with `--peer flip`), which opens all three.
    pub fn start(bytes: usize) -> Fallible<Writer> {
        Writer::start_with(&std::env::current_exe()?, bytes)
    }

    /// `start`, with `floe_bench` the `floe-bench` executable that runs the reader.
    pub fn start_with(floe_bench: &std::path::Path, bytes: usize) -> Fallible<Writer> {
        set_log_level(LogLevel::Error);
        let pid = std::process::id();
        let temp = std::env::temp_dir();
        let names = Names {
            segment: format!("flip{bytes}"),
            service: format!("floe-bench/flip/{pid}/{bytes}"),
            iceoryx2_root: temp.join(format!("floe-bench-{pid}-{bytes}-iceoryx2")),
            socket: temp.join(format!("floe-bench-{pid}-{bytes}.sock")),
            bytes,
        };
        let _ = std::fs::remove_file(&names.socket);
        let payload = Payload::build(bytes);
        // Room for the version being written and two the reader may still hold, each the payload's
        // bytes and the block's own (a value and a kind byte per string, its NUL, the headers).
        let owned = OwnedSegment::create(&names.segment, 4 * bytes as u64 + (1 << 20), 1)?;
        let names = Names { segment: owned.name.clone(), ..names };
        std::fs::create_dir_all(&names.iceoryx2_root)?;
        let node = NodeBuilder::new().config(&iceoryx2_config(&names.iceoryx2_root)?).create::<ipc::Service>()?;
        let service = node
            .service_builder(&names.service.as_str().try_into()?)
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(1)
            .history_size(0)
            .subscriber_max_buffer_size(1)
            .subscriber_max_borrowed_samples(1)
            .create()?;
        let publisher = service.publisher_builder().initial_max_slice_len(bytes).max_loaned_samples(1).create()?;
        let iceoryx2 = Iceoryx2Writer { publisher, _service: service, _node: node };
        let listener = UnixListener::bind(&names.socket)?;
        listener.set_nonblocking(true)?;
        let mut reader = Command::new(floe_bench)
            .args(["--peer", "flip"])
            .args(names.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (commands, records) = (reader.stdin.take(), reader.stdout.take().expect("piped"));
        let started = Instant::now();
        let socket = loop {
            match listener.accept() {
                Ok((socket, _)) => break socket,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = reader.try_wait()? {
                        return Err(format!("the reader process ended before it connected: {status}").into());
                    }
                    if started.elapsed() > PATIENCE {
                        let _ = reader.kill();
                        return Err("the reader process did not connect".into());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        };
        socket.set_nonblocking(false)?;
        let mut writer =
            Writer { reader, commands, records, iceoryx2, socket, owned, payload, names, encoded: Vec::new(), seq: 0 };
        let (seq, ..) = writer.record()?;
        if seq != READY {
            return Err(format!("the reader process began with record {seq}, not ready").into());
        }
        Ok(writer)
    }

    /// The payload's size in bytes.
    pub fn bytes(&self) -> usize {
        self.names.bytes
    }

    /// The size of the floe block that carries one message: its bytes as the segment holds them.
    pub fn block_bytes(&self) -> Fallible<usize> {
        Ok(self.owned.segment.verify(0)?.map_or(0, |seen| seen.bytes))
    }

    /// `messages` messages over `transport`, one at a time; the times of each.
    pub fn round(&mut self, transport: Transport, messages: u32) -> Fallible<Vec<Flip>> {
        let mut command = [transport.code(), 0, 0, 0, 0];
        command[1..].copy_from_slice(&messages.to_le_bytes());
        let commands = self.commands.as_mut().expect("open until dropped");
        commands.write_all(&command)?;
        commands.flush()?;
        let (ready, ..) = self.record()?;
        if ready != READY {
            return Err(format!("the reader process answered {ready} where it should be ready").into());
        }
        let mut flips = Vec::with_capacity(messages as usize);
        for _ in 0..messages {
            let settled = Instant::now();
            while settled.elapsed() < GAP {
                std::hint::spin_loop();
            }
            self.seq += 1;
            let seq = self.seq;
            let (sent, returned) = self.send(transport, seq)?;
            let (seen, arrived, held) = self.record()?;
            if seen != seq {
                return Err(format!("{transport:?}: the reader saw message {seen}, not {seq}").into());
            }
            flips.push(Flip {
                latency: held.saturating_sub(sent) as f64,
                send: returned.saturating_sub(sent) as f64,
                attach: held.saturating_sub(arrived) as f64,
            });
        }
        Ok(flips)
    }

    /// Sends message `seq`; the clock just before it is sent (after its graph is built), and once
    /// the send returned.
    fn send(&mut self, transport: Transport, seq: u64) -> Fallible<(u64, u64)> {
        let sent = match transport {
            Transport::FloeSpin | Transport::FloeWait => {
                let message = self.payload.message(seq);
                let sent = monotonic_ns();
                self.owned.segment.publish(0, &message)?;
                sent
            }
            Transport::Iceoryx2 => {
                self.payload.flat[..8].copy_from_slice(&seq.to_le_bytes());
                let sent = monotonic_ns();
                let sample = self.iceoryx2.publisher.loan_slice_uninit(self.names.bytes)?;
                sample.write_from_slice(&self.payload.flat).send()?;
                sent
            }
            Transport::Socket => {
                let message = self.payload.message(seq);
                let sent = monotonic_ns();
                encode(&message, &mut self.encoded);
                self.socket.write_all(&self.encoded)?;
                sent
            }
        };
        Ok((sent, monotonic_ns()))
    }

    /// The reader's next record: a sequence number and the reader's two clocks.
    fn record(&mut self) -> Fallible<(u64, u64, u64)> {
        let mut record = [0u8; 24];
        self.records.read_exact(&mut record).map_err(|e| format!("the reader process's record: {e}"))?;
        let word = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
        Ok((word(0), word(8), word(16)))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The end of its input ends the reader; a reader stuck elsewhere is killed.
        drop(self.commands.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.reader.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = self.reader.kill();
        let _ = self.reader.wait();
        let _ = std::fs::remove_file(&self.names.socket);
        let _ = std::fs::remove_dir_all(&self.names.iceoryx2_root);
    }
}

/// The reader process: `floe-bench --peer flip SEGMENT SERVICE ICEORYX2_ROOT SOCKET BYTES`.
/// Returns the process's exit status.
pub fn reader_main(args: &[String]) -> i32 {
    let Some(names) = Names::from_args(args) else {
        eprintln!("floe-bench --peer flip: expected SEGMENT SERVICE ICEORYX2_ROOT SOCKET BYTES");
        return 2;
    };
    match read_flips(&names) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("floe-bench --peer flip ({} bytes): {error}", names.bytes);
            1
        }
    }
}

fn read_flips(names: &Names) -> Fallible<()> {
    if cpu_count() > 1 {
        pin_current_thread(Some(1));
    }
    set_log_level(LogLevel::Error);
    Runtime::init()?;
    let segment = Segment::open(&names.segment)?;
    let node = NodeBuilder::new().config(&iceoryx2_config(&names.iceoryx2_root)?).create::<ipc::Service>()?;
    let service = node.service_builder(&names.service.as_str().try_into()?).publish_subscribe::<[u8]>().open()?;
    let subscriber: Subscriber<ipc::Service, [u8], ()> = service.subscriber_builder().create()?;
    let mut socket = UnixStream::connect(&names.socket)?;
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    let mut say = |seq: u64, arrived: u64, held: u64| -> Fallible<()> {
        let mut record = [0u8; 24];
        for (at, word) in [seq, arrived, held].into_iter().enumerate() {
            record[at * 8..at * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        output.write_all(&record)?;
        Ok(output.flush()?)
    };
    say(READY, 0, 0)?;
    let mut encoded = Vec::new();
    loop {
        let mut command = [0u8; 5];
        match input.read_exact(&mut command) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let transport = Transport::from_code(command[0]).ok_or("an unknown transport")?;
        let messages = u32::from_le_bytes(command[1..].try_into().expect("4 bytes"));
        let mut seen = segment.change_count(0)?;
        say(READY, 0, 0)?;
        for _ in 0..messages {
            let (seq, arrived) = match transport {
                Transport::FloeSpin | Transport::FloeWait => {
                    seen = if transport == Transport::FloeSpin {
                        spin(|| Ok(Some(segment.change_count(0)?).filter(|&count| count != seen)))?
                    } else {
                        segment.wait_for_change(0, seen, PATIENCE)?
                    };
                    let arrived = monotonic_ns();
                    let (_, root) = attach(&segment, 0)?.ok_or("the slot is empty")?;
                    (root.get_int(0)? as u64, arrived)
                }
                Transport::Iceoryx2 => {
                    let sample = spin(|| Ok(subscriber.receive()?))?;
                    let arrived = monotonic_ns();
                    (u64::from_le_bytes(sample.payload()[..8].try_into().expect("8 bytes")), arrived)
                }
                Transport::Socket => {
                    let mut length = [0u8; 8];
                    socket.read_exact(&mut length)?;
                    encoded.resize(u64::from_le_bytes(length) as usize, 0);
                    socket.read_exact(&mut encoded)?;
                    let arrived = monotonic_ns();
                    (decode(&encoded).get_int(0)? as u64, arrived)
                }
            };
            say(seq, arrived, monotonic_ns())?;
        }
    }
}

/// Calls `poll` until it gives a value; an error after `PATIENCE`.
fn spin<T>(mut poll: impl FnMut() -> Fallible<Option<T>>) -> Fallible<T> {
    let started = Instant::now();
    for polls in 0u64.. {
        if let Some(value) = poll()? {
            return Ok(value);
        }
        if polls % 4096 == 4095 && started.elapsed() > PATIENCE {
            break;
        }
        std::hint::spin_loop();
    }
    Err(format!("nothing arrived in {PATIENCE:?}").into())
}
