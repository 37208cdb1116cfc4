namespace PeftSharp.Quantization;

/// <summary>The blocksizes bitsandbytes supports: powers of two from 32 to 4096.</summary>
public static class BlockSizes
{
    public const int Min = 32;
    public const int Max = 4096;

    public static bool IsValid(int blockSize) => blockSize is >= Min and <= Max && (blockSize & (blockSize - 1)) == 0;

    public static void Validate(int blockSize, string name = "blocksize")
    {
        if (!IsValid(blockSize))
            throw new ConfigurationException(
                $"{name} {blockSize} is not supported: use a power of two from {Min} to {Max} (bitsandbytes' blocksizes; 64 is the QLoRA default)");
    }

    internal static long BlockCount(long elements, int blockSize) => (elements + blockSize - 1) / blockSize;
}
