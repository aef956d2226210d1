"""The `firesale` command line (also `python -m engine`)."""
import argparse
import json
import sys


def _cmd_demo(args):
    from engine.demo import format_demo, run_demo

    measurements = run_demo(seed=args.seed, sells=args.sells)
    if args.json:
        print(json.dumps(measurements, indent=2))
    else:
        print(format_demo(measurements))
    return 0


def _count(text):
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="firesale",
        description="Order-book liquidation engine: forced-selling cascades through a limit order book.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command")

    demo = commands.add_parser("demo", help="the order book alone: forced market sells walking "
                                            "down a seeded book")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--sells", type=_count, default=60_000, help="number of forced market sells")
    demo.add_argument("--json", action="store_true", help="print the measurements as JSON")
    demo.set_defaults(func=_cmd_demo)

    # run, scenarios, sweep
    from engine.scenario_cli import add_commands
    add_commands(commands)

    from engine.io.cli import add_replay_parser
    add_replay_parser(commands)
    return parser


def main(argv=None):
    """Entry point of the `firesale` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from engine import __version__
        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
