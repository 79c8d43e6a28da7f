fn main() {
    board_build_support::prepare(100, 2 * 1024 * 1024);
}
