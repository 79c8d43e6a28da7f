fn main() {
    board_build_support::prepare(100, 320 * 1024);
}
