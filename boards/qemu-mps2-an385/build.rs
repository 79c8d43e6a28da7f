fn main() {
    board_build_support::prepare(100);
}
