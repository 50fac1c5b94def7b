using System;

namespace Haywire.Owin.Transport.Shm
{
    /// <summary>Region names (haywire_shm.h section 1): "haywire-" + lowercase UUID, optionally ".LANE".</summary>
    internal static class RegionNames
    {
        /// <summary>Parses name as hw_shm_name_parse does. On success uuid holds the 16 UUID bytes.</summary>
        public static bool TryParse(string name, byte[] uuid, out int lane)
        {
            lane = 0;
            if (name == null || !name.StartsWith(ShmLayout.NamePrefix, StringComparison.Ordinal))
                return false;
            int p = ShmLayout.NamePrefix.Length;
            if (name.Length < p + 36)
                return false;
            int k = 0;
            for (int i = 0; i < 36; i++)
            {
                char c = name[p + i];
                if (i == 8 || i == 13 || i == 18 || i == 23)
                {
                    if (c != '-')
                        return false;
                    continue;
                }
                int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (v < 0)
                    return false;
                if (uuid != null)
                {
                    if (k % 2 == 0)
                        uuid[k / 2] = (byte)(v << 4);
                    else
                        uuid[k / 2] |= (byte)v;
                }
                k++;
            }
            p += 36;
            if (p == name.Length)
                return true;
            if (name[p] != '.')
                return false;
            p++;
            // "." + 1..63 in decimal, no leading zero.
            if (p >= name.Length || name[p] < '1' || name[p] > '9')
                return false;
            int l = name[p++] - '0';
            if (p < name.Length && name[p] >= '0' && name[p] <= '9')
                l = 10 * l + (name[p++] - '0');
            if (p != name.Length || l >= ShmLayout.MaxLanes)
                return false;
            lane = l;
            return true;
        }

        /// <summary>The name of lane k of the engine whose lane-0 name is baseName.</summary>
        public static string Lane(string baseName, int k)
        {
            return k == 0 ? baseName : baseName + "." + k;
        }
    }
}
