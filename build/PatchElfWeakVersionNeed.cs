using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Sets VER_FLG_WEAK on one version-need entry (.gnu.version_r) of ELF64 little-endian shared objects.
public class PatchElfWeakVersionNeed : Task
{
    [Required] public ITaskItem[] Files { get; set; }
    [Required] public string VersionName { get; set; }

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                var bytes = File.ReadAllBytes(path);
                var result = Patch(bytes, VersionName);
                if (result == "patched")
                {
                    var tmp = path + ".peftsharp-tmp";
                    File.WriteAllBytes(tmp, bytes);
                    // Delete + move replaces the directory entry, so a hard link into the NuGet cache is never written through.
                    File.Delete(path);
                    File.Move(tmp, path);
                    Log.LogMessage(MessageImportance.High, "PeftSharp: marked " + VersionName + " weak in " + path);
                }
                else
                {
                    Log.LogMessage(MessageImportance.Low, "PeftSharp: " + path + ": " + result);
                }
            }
            catch (Exception e)
            {
                Log.LogError("PeftSharp: could not patch " + path + ": " + e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    static string Patch(byte[] b, string name)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            return "not an ELF file";
        if (b[4] != 2 || b[5] != 1) return "not ELF64 little-endian";
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A);
        int shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != ShtGnuVerneed) continue;
            long off = (long)BitConverter.ToUInt64(b, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 0x28);
            long strOff = (long)BitConverter.ToUInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            long vn = off;
            while (true)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int j = 0; j < cnt; j++)
                {
                    ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                    long nameOff = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = (int)nameOff;
                    while (b[end] != 0) end++;
                    if (Encoding.ASCII.GetString(b, (int)nameOff, end - (int)nameOff) == name)
                    {
                        if ((flags & VerFlgWeak) != 0) return "already weak";
                        var nf = BitConverter.GetBytes((ushort)(flags | VerFlgWeak));
                        b[aux + 4] = nf[0];
                        b[aux + 5] = nf[1];
                        return "patched";
                    }
                    uint next = BitConverter.ToUInt32(b, (int)aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = BitConverter.ToUInt32(b, (int)vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return "no " + name + " version need";
    }
}
