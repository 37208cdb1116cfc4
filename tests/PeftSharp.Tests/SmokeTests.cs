namespace PeftSharp.Tests;

public class SmokeTests
{
    [Fact]
    public void Torch_native_library_loads_and_computes() =>
        Assert.Equal(8f, ones(2, 2).matmul(ones(2, 2)).sum().item<float>());
}
