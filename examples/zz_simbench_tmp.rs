fn main() {
    use arroyo_exporter::sim::*;
    let nodes: Vec<(u32, u32)> = (0..10).map(|i| (i, 1000)).collect();
    let t = std::time::Instant::now();
    let doc = generate_metrics_document(Release::Main, &nodes, 151, 1_795_608_672_537_756, 11);
    println!("{} bytes in {:?}", doc.len(), t.elapsed());
}
