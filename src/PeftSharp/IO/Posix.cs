using System.Runtime.InteropServices;

namespace PeftSharp.IO;

/// <summary>The few libc calls .NET does not expose: flushing a folder's entries, reading a file another process has flock-ed.</summary>
static class Posix
{
    [DllImport("libc", SetLastError = true)] public static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] static extern nint read(int fd, byte[] buffer, nint count);

    /// <summary>Up to <paramref name="max"/> bytes of a file, without taking the advisory lock .NET's FileStream takes; null if unreadable.</summary>
    public static byte[]? ReadPrefix(string path, int max)
    {
        int fd = open(path, 0 /* O_RDONLY */);
        if (fd < 0) return null;
        try
        {
            var buffer = new byte[max];
            nint n = read(fd, buffer, max);
            return n < 0 ? null : buffer[..(int)n];
        }
        finally { close(fd); }
    }
}
