using static PeftSharp.Tests.Reliability.Fuzz.JsonSeeds;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>Small, valid dataset files in every text format the dataset readers take.</summary>
internal static class DatasetSeeds
{
    public static readonly byte[][] Jsonl =
    [
        Utf8("""
        {"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well.\n2. Exercise.\n3. Sleep."}
        {"instruction": "Translate to French", "input": "cheese", "output": "fromage", "id": 7}

        {"instruction": "Add the numbers", "input": [1, 2], "output": 3.0, "meta": {"source": "seed", "ok": true}}
        """),
        Utf8("""
        {"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
        """),
        Utf8("""
        {"text": "a gripping, funny film", "label": 1}
        {"text": "flat and tedious", "label": "negative"}
        {"prompt": "The capital of France is", "completion": " Paris."}
        """),
    ];

    public static readonly byte[][] JsonArray =
    [
        Utf8("""
        [
          {"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well.\n2. Exercise."},
          {"instruction": "Translate to French", "input": "cheese", "output": "fromage"},
          {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
        ]
        """),
        Utf8("""[{"text": "short", "label": 0}, {"text": "é 👋 \u00e9", "label": 1, "extra": null}]"""),
    ];

    public static readonly byte[][] Csv =
    [
        Utf8(""""
        text,label
        "a gripping, funny film",1
        flat and tedious,0
        "she said ""no""",1
        "two
        lines",0
        é 👋,1
        """"),
        Utf8("instruction,input,output\r\nSay hi,,hi\r\n\"Sum, please\",\"1,2\",3\r\n"),
    ];

    public static readonly byte[][] Tsv =
    [
        Utf8("sentence\tlabel\nhide new secretions from the parental units \t0\ncontains no wit , only labored gags \t0\n\"quoted\" stays as is\t1\n"),
        Utf8("text\tlabel\nWall St. Bears Claw Back Into the Black (Reuters)\tBusiness\nRed Sox win\tSports\n"),
    ];

    public static readonly byte[][] Text =
    [
        Utf8("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n"),
        Utf8("one line\r\nanother line\r\n\r\né 👋\n"),
    ];
}
