//! Prints what the extractor finds in each argument (a development aid).
fn main() {
    for arg in std::env::args().skip(1) {
        println!("== {arg:?}");
        for ioc in threatdesk_extract::extract(&arg) {
            println!(
                "  {:?} {:?} text={:?} [{}..{}] {:?}",
                ioc.kind, ioc.value, ioc.text, ioc.start, ioc.end, ioc.flags
            );
        }
    }
}
