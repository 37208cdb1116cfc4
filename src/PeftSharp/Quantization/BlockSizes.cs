namespace PeftSharp.Quantization;

/// <summary>The blocksizes bitsandbytes supports: powers of two from 32 to 4096.</summary>
public static class BlockSizes
{
    /// <summary>Smallest supported blocksize (32 elements per absmax).</summary>
    public const int Min = 32;
    /// <summary>Largest supported blocksize (4096 elements per absmax).</summary>
    public const int Max = 4096;

    /// <summary>
    /// Whether <paramref name="blockSize"/> is a power of two in [<see cref="Min"/>, <see cref="Max"/>].
    /// </summary>
    public static bool IsValid(int blockSize) => blockSize is >= Min and <= Max && (blockSize & (blockSize - 1)) == 0;

    /// <summary>Checks a blocksize before any work is done.</summary>
    /// <param name="blockSize">Elements per quantization block.</param>
    /// <param name="name">How the setting is called in the error message (e.g. "bnb_4bit_blocksize"); default
    /// "blocksize".</param>
    /// <exception cref="ConfigurationException">The blocksize is not <see cref="IsValid"/>.</exception>
    public static void Validate(int blockSize, string name = "blocksize")
    {
        if (!IsValid(blockSize))
            throw new ConfigurationException(
                $"{name} {blockSize} is not supported: use a power of two from {Min} to {Max} (bitsandbytes' blocksizes; 64 is the QLoRA default)");
    }

    internal static long BlockCount(long elements, int blockSize) => (elements + blockSize - 1) / blockSize;
}
