"""`keras-lstm zoo list|train|evaluate|run`.

    keras-lstm zoo list
    keras-lstm zoo train NAME [--epochs N] [--seed S] [--output DIR]
                              [--checkpoint-dir DIR] [--data-parallel]
                              [--holdout-speaker SPEAKER] [--voices GROUP=N ...]
    keras-lstm zoo evaluate NAME [--weights DIR] [--write]
    keras-lstm zoo run NAME [model arguments...]
    keras-lstm zoo babi FOLDER [--tasks 1 2 ...] [--epochs N] [--output DIR]
    keras-lstm zoo corpus [--sources NAME ...] [--cache DIR] [--write FOLDER]

`train` writes to zoo/NAME by default (the committed files). `evaluate`
recomputes the card's metrics and the baselines on the held-out data and
prints them as the card's table; `--write` stores them in the manifest and
the card, and redraws the card's plots where it has any. `run NAME --help` lists a model's own arguments. `babi` trains the
qa-chatbot's story reader on bAbI's own files (`qa1_*_train.txt` in FOLDER, e.g.
the dataset's `en-10k/`) and prints its accuracy on their test files. `corpus`
builds the German-English parallel text of translated Debian packages
(`parallel_corpus`; fetching the packages it needs) and prints what each source
gives; `--write` also writes its splits as TSV files.
"""

import argparse
import json
import re
from pathlib import Path

from keras_lstm import zoo
from keras_lstm.zoo import artifacts, parallel_corpus, voice_groups

CARD_TABLE = re.compile(r"(<!-- metrics:begin -->\n).*?(<!-- metrics:end -->)", re.S)


def add_commands(commands):
    parser = commands.add_parser("zoo", help="trained reference models: list, train, evaluate, run")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the zoo's models")
    train = actions.add_parser("train", help="train a model with its recipe")
    train.add_argument("name", choices=zoo.list_models())
    train.add_argument("--epochs", type=int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--output", help="where to write the weights (default: zoo/NAME)")
    train.add_argument("--checkpoint-dir", help="resume point kept between epochs")
    train.add_argument(
        "--holdout-speaker",
        help="digit-speech-recognizer: train the model that never hears this speaker (the card's unseen-speaker row)",
    )
    train.add_argument(
        "--voices", nargs="+", metavar="GROUP=N",
        help="digit-speech-recognizer: every digit from N synthetic speakers of GROUP "
        f"({', '.join(voice_groups.GROUPS)}); groups not named keep the recipe's number "
        "(GROUP=0 leaves one out)",
    )
    train.add_argument(
        "--data-parallel", action="store_true",
        help="split each batch over all devices with keras.distribution.DataParallel (JAX backend)",
    )
    evaluate = actions.add_parser("evaluate", help="recompute a model card's metrics")
    evaluate.add_argument("name", choices=zoo.list_models())
    evaluate.add_argument("--weights", help="a folder with model.json (default: zoo/NAME)")
    evaluate.add_argument("--write", action="store_true", help="store the metrics in model.json and CARD.md (and redraw the card's plots)")
    babi = actions.add_parser("babi", help="train and test the story reader on bAbI's own files")
    babi.add_argument("folder", help="the folder of qaN_*_train.txt and qaN_*_test.txt files (bAbI's en/ or en-10k/)")
    babi.add_argument("--tasks", type=int, nargs="+", default=[1, 2, 3, 4, 6, 7, 8, 9, 11], help="task numbers")
    babi.add_argument("--epochs", type=int, default=60)
    babi.add_argument("--seed", type=int, default=0)
    babi.add_argument("--output", help="where to write the trained reader (default: not written)")
    babi.add_argument("--checkpoint-dir", help="resume point kept between epochs")
    corpus = actions.add_parser("corpus", help="German-English parallel text from translated Debian packages")
    corpus.add_argument("--sources", nargs="+", choices=list(parallel_corpus.SOURCES), help="default: all")
    corpus.add_argument("--cache", help="where fetched .deb files are kept and unpacked (default: $KERAS_LSTM_DEBIAN_CACHE or ~/.cache/keras-lstm/debian)")
    corpus.add_argument("--write", metavar="FOLDER", help="also write each split as SOURCE.{train,dev,test}.tsv")
    run = actions.add_parser("run", help="use a model on given input", add_help=False)
    run.add_argument("name", choices=zoo.list_models())
    run.add_argument("arguments", nargs=argparse.REMAINDER)


def main(args):
    if args.action == "list":
        for name in zoo.list_models():
            print(name)
        return 0
    if args.action == "babi":
        return _babi(args)
    if args.action == "corpus":
        print(parallel_corpus.summary(args.sources, args.cache, args.write))
        return 0
    recipe = zoo.recipe(args.name)
    if args.action == "train":
        options = {"seed": args.seed, "checkpoint_dir": args.checkpoint_dir, "data_parallel": args.data_parallel}
        if args.epochs is not None:
            options["epochs"] = args.epochs
        output = args.output or artifacts.folder(args.name)
        if args.holdout_speaker:
            if not hasattr(recipe, "holdout_dir"):
                raise ValueError(f"--holdout-speaker applies to digit-speech-recognizer, not {args.name}")
            options["holdout_speaker"] = args.holdout_speaker
            output = args.output or recipe.holdout_dir(args.holdout_speaker)
        if args.voices:
            if not hasattr(recipe, "VOICES"):
                raise ValueError(f"--voices applies to digit-speech-recognizer, not {args.name}")
            options["voices"] = {**recipe.VOICES, **_voice_counts(args.voices)}
        _, trained = recipe.train(output, **options)
        print(f"wrote {output}: {json.dumps(trained)}")
        return 0
    model = zoo.load(args.name, getattr(args, "weights", None))
    if args.action == "run":
        return recipe.run(model, args.arguments)
    results = recipe.evaluate(model)
    table = recipe.metrics_table(results)
    print(table)
    if args.write:
        directory = args.weights or artifacts.folder(args.name)
        manifest = artifacts.read_manifest(directory)
        manifest["metrics"] = results
        artifacts.write_manifest(directory, manifest)
        card = Path(directory) / "CARD.md"
        if card.exists():
            text = card.read_text()
            card.write_text(CARD_TABLE.sub(lambda match: match[1] + table + "\n" + match[2], text))
        if hasattr(recipe, "write_figures"):  # the card's plots of these results, where it has any
            recipe.write_figures(model, results, directory)
    return 0


def _voice_counts(words):
    """{group: speakers} from `--voices` words such as "flite=100", or a ValueError naming the word."""
    counts = {}
    for word in words:
        group, _, count = word.partition("=")
        if group not in voice_groups.GROUPS or not count.isdigit():
            raise ValueError(f"--voices {word}: expected GROUP=N, GROUP one of {', '.join(voice_groups.GROUPS)} and N a number >= 0")
        counts[group] = int(count)
    return counts


def _babi(args):
    from keras_lstm.zoo import story_reader

    _, trained, accuracy = story_reader.train_on_files(
        args.folder, args.tasks, args.output, epochs=args.epochs, seed=args.seed, checkpoint_dir=args.checkpoint_dir,
    )
    print("| task | test accuracy |\n|---|---|")
    for task, value in accuracy.items():
        print(f"| {task} | {value:.1f}% |")
    print(f"trained in {trained['seconds']:.0f} s" + (f"; wrote {args.output}" if args.output else ""))
    return 0
