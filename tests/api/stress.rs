//! Stress: many threads moving many graphs through workers, detached graphs and shared data at
//! once; every object is accounted for at the end.

use floe::{Object, Result, Runtime, SharedCell, TransferMode, Worker};
use std::time::Duration;

crate::tests![many_threads_many_transfers_nothing_lost];

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

fn double_all(input: Option<Object>) -> Result<Option<Object>> {
    let list = input.expect("a list");
    for i in 0..list.len()? {
        let item = list.get_ref(i)?.expect("an item");
        item.set_int(0, item.get_int(0)? * 2)?;
    }
    Ok(Some(list))
}

fn graph(seed: i64) -> Object {
    let ty = floe::ObjectType::define("Item", &[("value", floe::Kind::Int), ("peer", floe::Kind::Ref)]).unwrap();
    let list = Object::new_list().unwrap();
    let items: Vec<Object> = (0..20).map(|_| Object::new(ty).unwrap()).collect();
    for (i, item) in items.iter().enumerate() {
        item.set_int(0, seed + i as i64).unwrap();
        item.set_ref(1, Some(&items[(i + 7) % items.len()])).unwrap();
        list.push_ref(Some(item)).unwrap();
    }
    list
}

fn sum(list: &Object) -> i64 {
    (0..list.len().unwrap()).map(|i| list.get_ref(i).unwrap().unwrap().get_int(0).unwrap()).sum()
}

fn many_threads_many_transfers_nothing_lost() {
    static LATEST: SharedCell = SharedCell::new();
    let workers: Vec<Worker> = (0..3).map(|i| Worker::start(&format!("stress-{i}")).unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let workers = workers.clone();
            s.spawn(move || {
                for round in 0..150i64 {
                    let seed = t * 100_000 + round * 100;
                    let list = graph(seed);
                    let expected: i64 = 2 * (0..20).map(|i| seed + i).sum::<i64>();
                    let worker = workers[(round as usize + t as usize) % workers.len()];
                    let future = worker
                        .execute(Some(list.detach(TransferMode::Safe).unwrap()), TransferMode::Safe, double_all)
                        .unwrap();
                    let result = future.result(WAIT).unwrap().unwrap();
                    assert_eq!(sum(&result), expected);
                    if round % 10 == 0 {
                        result.freeze(None).unwrap();
                        LATEST.publish(Some(&result)).unwrap();
                    }
                    if let (_, Some(latest)) = LATEST.read().unwrap() {
                        assert_eq!(sum(&latest) % 2, 0);
                    }
                }
                // Scoped threads report done before their exit-time collection runs: collect now.
                Runtime::collect_cycles();
            });
        }
    });
    for worker in workers {
        worker.request_termination(true).unwrap().result(WAIT).unwrap();
    }
    LATEST.publish(None).unwrap();
    let stats = Runtime::stats();
    assert_eq!((stats.live_objects, stats.live_handles, stats.detached_graphs), (0, 0, 0), "{stats:?}");
}
