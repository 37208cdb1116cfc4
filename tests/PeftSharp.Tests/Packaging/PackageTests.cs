using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Packaging;

/// <summary>
/// The packages as users get them: the CLI installed as a .NET tool from the locally built packages, and a fresh
/// console project that references the library package and runs a model on this Debian 12 machine (which only works
/// when the package's build-time native-load fix reached the consumer's build output).
/// </summary>
public sealed class PackageTests(PackedPackages packages) : IClassFixture<PackedPackages>
{
    const string StoriesOpening = "Once upon a time, there was a little girl named Lily.";

    [Fact]
    public void The_packages_carry_readme_licence_symbols_and_the_native_fix()
    {
        var files = Directory.GetFiles(packages.Artifacts).Select(Path.GetFileName).ToHashSet();
        foreach (var expected in new[] { "PeftSharp", "PeftSharp.Cli", "PeftSharp.Cli.linux-x64" })
            Assert.Contains($"{expected}.{packages.Version}.nupkg", files);
        Assert.Contains($"PeftSharp.{packages.Version}.snupkg", files);
        Assert.Contains($"PeftSharp.Cli.linux-x64.{packages.Version}.snupkg", files);

        using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(packages.Artifacts, $"PeftSharp.{packages.Version}.nupkg"));
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var folder in new[] { "build", "buildTransitive" })
        foreach (var file in new[] { "PeftSharp.targets", "TorchSharpNativeFix.targets", "PatchElfWeakVersionNeed.cs" })
            Assert.Contains($"{folder}/{file}", entries);
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
        Assert.Contains("lib/net10.0/PeftSharp.xml", entries); // the API docs travel with the assembly
    }

    [Fact]
    public void The_tool_installs_from_the_local_packages_and_runs()
    {
        var model = Fixtures.Require("models", "stories260K");
        var toolPath = Path.Combine(packages.Root, "tools");
        var install = ExternalProcess.Run(ExternalProcess.Dotnet,
            ["tool", "install", "--tool-path", toolPath, "--add-source", packages.Artifacts, "PeftSharp.Cli", "--version", packages.Version],
            packages.Root, TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, install.Output);

        var peftsharp = Path.Combine(toolPath, "peftsharp");
        var version = ExternalProcess.Run(peftsharp, ["--version"], packages.Root, TimeSpan.FromMinutes(1));
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith(packages.Version, version.Output.Trim());

        var generate = ExternalProcess.Run(peftsharp, ["generate", "-m", model, "-n", "20"], packages.Root, TimeSpan.FromMinutes(2));
        Assert.True(generate.ExitCode == 0, generate.Output);
        Assert.Contains(StoriesOpening, generate.Output);
    }

    [Fact]
    public void A_project_referencing_the_library_package_builds_and_runs_a_model()
    {
        var model = Fixtures.Require("models", "stories260K");
        var project = Path.Combine(packages.Root, "consumer");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="peftsharp-local" value="{packages.Artifacts}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(project, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <NoWarn>NU1603</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="PeftSharp" Version="{packages.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using PeftSharp.Generation;
            using PeftSharp.Models;

            using var lm = PretrainedCausalLM.Load(args[0]);
            var prompt = lm.Tokenizer!.Encode("Once upon a time");
            var result = new TextGenerator(lm.Model).Generate(prompt, new SamplingOptions { MaxNewTokens = 12 });
            Console.WriteLine(lm.Tokenizer.Decode(prompt.Concat(result.NewIds)));
            """);

        var build = ExternalProcess.Run(ExternalProcess.Dotnet, ["build", "-c", "Release", "-nologo"], project, TimeSpan.FromMinutes(5));
        Assert.True(build.ExitCode == 0, build.Output);
        if (OperatingSystem.IsLinux())
            Assert.Contains("marked GLIBCXX_3.4.32 weak", build.Output); // the package's buildTransitive fix ran

        var run = ExternalProcess.Run(ExternalProcess.Dotnet, [Path.Combine(project, "bin", "Release", "net10.0", "Consumer.dll"), model],
            project, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains(StoriesOpening, run.Output);
    }
}

/// <summary>The torch backend switch (Directory.Build.props): which TorchSharp package each value selects.</summary>
public sealed class TorchBackendSwitchTests
{
    static ExternalProcess.Result Msbuild(params string[] args) =>
        ExternalProcess.Run(ExternalProcess.Dotnet, ["msbuild", Path.Combine(Fixtures.RepoRoot, "src", "PeftSharp", "PeftSharp.csproj"), "-nologo", .. args],
            Fixtures.RepoRoot, TimeSpan.FromMinutes(2));

    [Theory]
    [InlineData("cpu", "TorchSharp-cpu")]
    [InlineData("cuda", "TorchSharp-cuda-linux")]
    public void The_backend_property_selects_the_TorchSharp_package(string backend, string package)
    {
        var r = Msbuild("-getItem:PackageReference", $"-p:PeftSharpTorchBackend={backend}");
        Assert.True(r.ExitCode == 0, r.Output);
        var torch = System.Text.Json.JsonDocument.Parse(r.Output).RootElement.GetProperty("Items").GetProperty("PackageReference")
            .EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).Where(id => id.StartsWith("TorchSharp", StringComparison.Ordinal)).ToList();
        Assert.Equal([package], torch);
    }

    [Fact]
    public void An_unknown_backend_is_refused_with_the_values_it_takes()
    {
        var r = Msbuild("-t:PeftSharpCheckTorchBackend", "-p:PeftSharpTorchBackend=rocm");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("PeftSharpTorchBackend is 'rocm': use cpu", r.Output);
    }
}
