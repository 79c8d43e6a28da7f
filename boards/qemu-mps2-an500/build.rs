fn main() {
    board_build_support::prepare(100, 4 * 1024 * 1024);
}
