using System;
using System.Text;

namespace Haywire.Owin
{
    /// <summary>
    /// Percent-decoding of request paths (OWIN 1.0 §5.5: Path and PathBase are
    /// decoded, their octets read as UTF-8; the query stays encoded) and the
    /// PathBase/Path split of §5.3.
    /// </summary>
    internal static class PathDecoder
    {
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>
        /// Decodes %XX sequences and reads the octets as UTF-8. The raw path arrives
        /// as Latin-1 text (one char per octet), so octets above 0x7F sent unencoded
        /// are read as UTF-8 too. A path whose octets are not valid UTF-8, or with a
        /// malformed %-sequence, is returned as received: guessing would make two
        /// different paths look the same.
        /// </summary>
        public static string Decode(string raw)
        {
            bool plain = true;
            for (int i = 0; i < raw.Length; i++)
            {
                char c = raw[i];
                if (c == '%' || c > 0x7F)
                {
                    plain = false;
                    break;
                }
            }
            if (plain)
            {
                return raw;
            }
            var octets = new byte[raw.Length];
            int n = 0;
            for (int i = 0; i < raw.Length; i++)
            {
                char c = raw[i];
                if (c > 0xFF)
                {
                    return raw;
                }
                if (c == '%')
                {
                    int hi, lo;
                    if (i + 2 >= raw.Length || (hi = HexValue(raw[i + 1])) < 0 || (lo = HexValue(raw[i + 2])) < 0)
                    {
                        return raw;
                    }
                    octets[n++] = (byte)((hi << 4) | lo);
                    i += 2;
                }
                else
                {
                    octets[n++] = (byte)c;
                }
            }
            try
            {
                return StrictUtf8.GetString(octets, 0, n);
            }
            catch (ArgumentException)
            {
                return raw;
            }
        }

        private static int HexValue(char c)
        {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        }

        /// <summary>
        /// Normalises a configured base path: "" or a path starting with '/' and not
        /// ending with one (§5.3). Throws ArgumentException otherwise.
        /// </summary>
        public static string NormalizeBase(string pathBase)
        {
            if (string.IsNullOrEmpty(pathBase) || pathBase == "/")
            {
                return "";
            }
            if (pathBase[0] != '/')
            {
                throw new ArgumentException("a base path must start with '/': \"" + pathBase + "\"", "pathBase");
            }
            return pathBase.TrimEnd('/');
        }

        /// <summary>
        /// True when path lies under pathBase (segment-wise, ignoring ASCII case as
        /// Katana's PathString does); rest is what follows it: "" or "/...".
        /// </summary>
        public static bool TrySplit(string path, string pathBase, out string rest)
        {
            if (pathBase.Length == 0)
            {
                rest = path;
                return true;
            }
            if (path.Length >= pathBase.Length
                && string.Compare(path, 0, pathBase, 0, pathBase.Length, StringComparison.OrdinalIgnoreCase) == 0
                && (path.Length == pathBase.Length || path[pathBase.Length] == '/'))
            {
                rest = path.Substring(pathBase.Length);
                return true;
            }
            rest = null;
            return false;
        }
    }
}
