using System;
using System.Collections.Generic;

namespace Haywire.Owin.Transport.Bridge
{
    /// <summary>
    /// Builds the head of a response message (haywire_bridge.h section 4): the 16-byte fixed head, the reason
    /// and the "Name: value\r\n" header block. Strings become bytes as Latin-1 (a character above U+00FF
    /// becomes '?'). A header whose name is not an HTTP token or whose value holds CR, LF or NUL is dropped,
    /// as the engine would drop it; so is a reason that holds them or is longer than 255 bytes (the engine
    /// then sends the standard phrase).
    /// </summary>
    internal static class ResponseEncoder
    {
        [ThreadStatic] private static byte[] _scratch;

        /// <summary>
        /// Encodes the head into a per-thread buffer, valid until this thread's next call, and returns its length.
        /// Throws ArgumentOutOfRangeException for a status outside 100..999.
        /// </summary>
        public static int EncodeHead(int status, byte flags, string reason, IList<KeyValuePair<string, string>> headers,
                                     long contentLength, out byte[] buffer)
        {
            if (status < BridgeLayout.ResponseMinStatus || status > BridgeLayout.ResponseMaxStatus)
                throw new ArgumentOutOfRangeException("status", status, "HTTP status must be in 100..999");
            int reasonLen = ReasonLength(reason);
            int need = BridgeLayout.ResponseHeadLen + reasonLen;
            int count = headers == null ? 0 : headers.Count;
            // The OWIN layer passes a List: direct calls, not an interface call per header and pass.
            var list = headers as List<KeyValuePair<string, string>>;
            for (int i = 0; i < count; i++)
            {
                var h = list != null ? list[i] : headers[i];
                if (ValidField(h.Key, h.Value))
                    need += h.Key.Length + 2 + (h.Value == null ? 0 : h.Value.Length) + 2;
            }
            byte[] b = _scratch;
            if (b == null || b.Length < need)
                _scratch = b = new byte[Math.Max(need, 512)];
            int p = BridgeLayout.ResponseHeadLen;
            for (int i = 0; i < reasonLen; i++)
                b[p++] = (byte)reason[i];
            int fieldsStart = p;
            for (int i = 0; i < count; i++)
            {
                var h = list != null ? list[i] : headers[i];
                if (!ValidField(h.Key, h.Value))
                    continue;
                p = PutLatin1(b, p, h.Key);
                b[p++] = (byte)':';
                b[p++] = (byte)' ';
                if (h.Value != null)
                    p = PutLatin1(b, p, h.Value);
                b[p++] = (byte)'\r';
                b[p++] = (byte)'\n';
            }
            int fieldsLen = p - fieldsStart;
            b[BridgeLayout.ResponseStatusOffset] = (byte)status;
            b[BridgeLayout.ResponseStatusOffset + 1] = (byte)(status >> 8);
            b[BridgeLayout.ResponseFlagsOffset] = flags;
            b[BridgeLayout.ResponseReasonLenOffset] = (byte)reasonLen;
            PutU32(b, BridgeLayout.ResponseFieldsLenOffset, (uint)fieldsLen);
            PutU32(b, BridgeLayout.ResponseContentLengthOffset, (uint)contentLength);
            PutU32(b, BridgeLayout.ResponseContentLengthOffset + 4, (uint)((ulong)contentLength >> 32));
            buffer = b;
            return p;
        }

        private static void PutU32(byte[] b, int at, uint v)
        {
            b[at] = (byte)v;
            b[at + 1] = (byte)(v >> 8);
            b[at + 2] = (byte)(v >> 16);
            b[at + 3] = (byte)(v >> 24);
        }

        /// <summary>s as Latin-1 at b[p..]; the caller sized b for it (EncodeHead's first pass).</summary>
        private static unsafe int PutLatin1(byte[] b, int p, string s)
        {
            int n = s.Length;
            if (n > b.Length - p)
                throw new ArgumentException("the head buffer is too small");
            // Pointers: the checked indexing cost a bounds check per character, the head's main cost.
            fixed (char* src = s)
            fixed (byte* start = b)
            {
                byte* dst = start + p;
                for (int i = 0; i < n; i++)
                {
                    char c = src[i];
                    dst[i] = c <= '\u00FF' ? (byte)c : (byte)'?';
                }
            }
            return p + n;
        }

        /// <summary>The reason's length in bytes, or 0 when it is absent or unusable.</summary>
        private static int ReasonLength(string reason)
        {
            if (string.IsNullOrEmpty(reason) || reason.Length > BridgeLayout.ResponseMaxReason)
                return 0;
            for (int i = 0; i < reason.Length; i++)
            {
                char c = reason[i];
                if (c == '\r' || c == '\n' || c == '\0' || c > '\u00FF')
                    return 0;
            }
            return reason.Length;
        }

        // Fields found valid lately, by reference (strings do not change): applications send the same
        // header strings response after response. Direct-mapped on the name's length and its first, middle and
        // last characters: the length alone put Content-Type and X-Powered-By (both 12) in one slot, so a hello
        // world with both re-checked each name and value on every response.
        private const int ValidSlots = 64;
        [ThreadStatic] private static string[] _validNames;
        [ThreadStatic] private static string[] _validValues;

        public static bool ValidField(string name, string value)
        {
            if (string.IsNullOrEmpty(name))
                return false;
            string[] names = _validNames;
            if (names == null)
            {
                _validNames = names = new string[ValidSlots];
                _validValues = new string[ValidSlots];
            }
            int n = name.Length;
            int slot = (n * 31 + name[0] * 7 + name[n - 1] * 3 + name[n >> 1]) & (ValidSlots - 1);
            string[] values = _validValues;
            if (ReferenceEquals(names[slot], name) && ReferenceEquals(values[slot], value) && value != null)
                return true;
            if (!CheckField(name, value))
                return false;
            names[slot] = name;
            values[slot] = value;
            return true;
        }

        private static bool CheckField(string name, string value)
        {
            for (int i = 0; i < name.Length; i++)
                if (!IsTokenChar(name[i]))
                    return false;
            if (value != null)
                for (int i = 0; i < value.Length; i++)
                {
                    char c = value[i];
                    if (c == '\r' || c == '\n' || c == '\0')
                        return false;
                }
            return true;
        }

        private static bool IsTokenChar(char c)
        {
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
                return true;
            switch (c)
            {
                case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
                case '-': case '.': case '^': case '_': case '`': case '|': case '~':
                    return true;
            }
            return false;
        }
    }
}
