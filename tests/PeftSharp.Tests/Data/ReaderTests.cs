using Parquet;
using Parquet.Schema;
using PeftSharp.Data;
using PeftSharp.Tests.Support;
using Record = PeftSharp.Data.Record;

namespace PeftSharp.Tests.Data;

public class ReaderTests
{
    static List<Record> ReadAll(string path, RecordIssues issues, ReaderOptions? options = null) =>
        DatasetReader.Read(path, options ?? new ReaderOptions(), issues).ToList();

    [Fact]
    public void Jsonl_reports_malformed_lines_with_their_line_numbers_and_skips_them()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.jsonl");
        File.WriteAllText(path, "{\"text\":\"a\"}\n\n{bad json\n[1,2]\n{\"text\":\"b\"}\n");
        var issues = new RecordIssues(OnError.Skip);
        var records = ReadAll(path, issues);
        Assert.Equal(["a", "b"], records.Select(r => r.Fields["text"].GetString()));
        Assert.Equal([1L, 5L], records.Select(r => r.Line));
        Assert.Equal(2, issues.Count);
        Assert.StartsWith($"{path}:3: invalid JSON", issues.FirstLocations[0]);
        Assert.StartsWith($"{path}:4: not a JSON object", issues.FirstLocations[1]);

        var warnings = new List<string>();
        using (Diagnostics.RedirectWarnings(warnings.Add)) issues.WarnIfAny();
        Assert.Contains("skipped 2", Assert.Single(warnings));
    }

    [Fact]
    public void Jsonl_under_fail_throws_naming_file_and_line()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.jsonl");
        File.WriteAllText(path, "{\"text\":\"a\"}\n{bad\n");
        var e = Assert.Throws<InvalidFileFormatException>(() => ReadAll(path, new RecordIssues(OnError.Fail)));
        Assert.Contains($"{path}: line 2: invalid JSON", e.Message);
        Assert.Contains("on_error: skip", e.Message);
    }

    [Fact]
    public void Json_array_is_streamed_element_by_element_with_element_indices()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.json");
        File.WriteAllText(path, "[\n {\"text\": \"a\"},\n 7,\n {\"text\": \"c\"}\n]");
        var issues = new RecordIssues();
        var records = ReadAll(path, issues);
        Assert.Equal(["a", "c"], records.Select(r => r.Fields["text"].GetString()));
        Assert.Equal([1L, 3L], records.Select(r => r.Line));
        Assert.Equal(1, issues.Count);
    }

    [Fact]
    public void Csv_with_header_handles_quotes_commas_and_line_breaks_and_reports_bad_rows()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.csv");
        File.WriteAllText(path, "instruction,output\n\"Say \"\"hi\"\", please\",hi\n\"two\nlines\",x\nonly-one-column\nlast,y\n");
        var issues = new RecordIssues();
        var records = ReadAll(path, issues);
        Assert.Equal(["Say \"hi\", please", "two\nlines", "last"], records.Select(r => r.Fields["instruction"].GetString()));
        Assert.Equal([2L, 3L, 6L], records.Select(r => r.Line));
        Assert.StartsWith($"{path}:5: wrong number of columns", Assert.Single(issues.FirstLocations));
    }

    [Fact]
    public void Tsv_is_detected_by_extension_and_takes_quotes_literally()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.tsv");
        File.WriteAllText(path, "sentence\tlabel\nit 's \"great\", really\t1\n");
        var r = Assert.Single(ReadAll(path, new RecordIssues()));
        Assert.Equal("it 's \"great\", really", r.Fields["sentence"].GetString());
        Assert.Equal("1", r.Fields["label"].GetString());
    }

    [Fact]
    public void Headerless_tsv_uses_the_given_column_names()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("agnews.tsv");
        File.WriteAllText(path, "Stocks rise\tBusiness\nTeam wins\tSports\n");
        var records = ReadAll(path, new RecordIssues(), new ReaderOptions { ColumnNames = ["text", "label"] });
        Assert.Equal(["Business", "Sports"], records.Select(r => r.Fields["label"].GetString()));
        Assert.Equal([1L, 2L], records.Select(r => r.Line));
    }

    [Fact]
    public void Plain_text_splits_whole_line_and_paragraph()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.txt");
        File.WriteAllText(path, "first line\nsecond line\n\n\nthird para\n");
        string Text(Record r) => r.Fields["text"].GetString()!;
        Assert.Equal(["first line\nsecond line\n\n\nthird para\n"], ReadAll(path, new(), new ReaderOptions { TextSplit = TextSplit.Whole }).Select(Text));
        var lines = ReadAll(path, new(), new ReaderOptions { TextSplit = TextSplit.Line });
        Assert.Equal(["first line", "second line", "third para"], lines.Select(Text));
        Assert.Equal([1L, 2L, 5L], lines.Select(r => r.Line));
        var paras = ReadAll(path, new(), new ReaderOptions { TextSplit = TextSplit.Paragraph });
        Assert.Equal(["first line\nsecond line", "third para"], paras.Select(Text));
        Assert.Equal([1L, 5L], paras.Select(r => r.Line));
    }

    [Fact]
    public async Task Parquet_round_trip_reads_string_and_integer_columns_across_row_groups()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.parquet");
        var text = new DataField<string>("text");
        var label = new DataField<long>("label");
        await using (var fs = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text, label), fs, cancellationToken: TestContext.Current.CancellationToken))
        {
            foreach (var (t, l) in new[] { (new[] { "a", "b" }, new long[] { 1, 2 }), (new[] { "c" }, new long[] { 3 }) })
            {
                using var g = writer.CreateRowGroup();
                await g.WriteAsync(text, t);
                await g.WriteAsync<long>(label, l.AsMemory(), cancellationToken: TestContext.Current.CancellationToken);
            }
        }
        var records = ReadAll(path, new RecordIssues());
        Assert.Equal(["a", "b", "c"], records.Select(r => r.Fields["text"].GetString()));
        Assert.Equal([1L, 2L, 3L], records.Select(r => r.Fields["label"].GetInt64()));
        Assert.Equal([1L, 2L, 3L], records.Select(r => r.Line));
    }

    [Fact]
    public void Jsonl_reader_is_lazy_over_a_200k_line_file()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("big.jsonl");
        using (var w = new StreamWriter(path))
            for (int i = 0; i < 200_000; i++) w.WriteLine($"{{\"text\":\"record number {i} with some padding text\"}}");
        long size = new FileInfo(path).Length;
        using var fs = File.OpenRead(path);
        // Reading past 1 MiB would throw: the first records must arrive from the first buffers alone.
        using var guarded = new ThrowingAfterStream(fs, 1 << 20);
        var first = JsonlReader.Read(guarded, path, new RecordIssues()).Take(100).ToList();
        Assert.Equal(100, first.Count);
        Assert.Equal("record number 99 with some padding text", first[^1].Fields["text"].GetString());
        Assert.True(size > 8 * (1 << 20), $"file is {size} bytes");
    }

    sealed class ThrowingAfterStream(Stream inner, long limit) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (inner.Position >= limit) throw new InvalidOperationException($"read past {limit} bytes: the reader is not streaming");
            return inner.Read(buffer, offset, count);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var e = Assert.Throws<ConfigurationException>(() => DatasetReader.Read("/nonexistent/x.jsonl", new ReaderOptions(), new RecordIssues()));
        Assert.Contains("/nonexistent/x.jsonl", e.Message);
    }

    [Fact]
    public void Unknown_extension_asks_for_type()
    {
        var e = Assert.Throws<ConfigurationException>(() => DatasetFileTypes.FromExtension("data.xyz"));
        Assert.Contains("set type", e.Message);
    }
}
