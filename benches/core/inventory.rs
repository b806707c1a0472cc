//! Inventory: the machine facts collected at each trigger, without the CPU sampling window.

use std::time::Duration;

use criterion::Criterion;
use helpdesk_core::inventory::collect;

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("inventory");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("collect", |b| b.iter(|| collect("0.1.0", Duration::ZERO)));
    group.finish();
}
