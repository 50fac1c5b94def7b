namespace Haywire.Owin.Transport.Bridge
{
    /// <summary>
    /// Shared strings for the header names most requests carry, so reading them allocates nothing. A name is
    /// shared only when its bytes match exactly (case included); anything else is decoded as Latin-1.
    /// </summary>
    internal static unsafe class HeaderNames
    {
        private static readonly string[] Known =
        {
            "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset", "Connection",
            "Content-Length", "Content-Type", "Cookie", "Cache-Control", "Pragma", "Referer", "Origin", "Authorization",
            "If-None-Match", "If-Modified-Since", "Expect", "Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests",
            "X-Forwarded-For", "X-Forwarded-Proto", "X-Requested-With", "Range", "DNT", "TE", "Keep-Alive",
            "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User",
            "host", "user-agent", "accept", "accept-encoding", "connection", "content-length", "content-type", "cookie",
        };

        // Known names by length, for a cheap first filter.
        private static readonly string[][] ByLength = Build();

        private static string[][] Build()
        {
            int max = 0;
            foreach (string s in Known)
                if (s.Length > max)
                    max = s.Length;
            var lists = new System.Collections.Generic.List<string>[max + 1];
            foreach (string s in Known)
                (lists[s.Length] ?? (lists[s.Length] = new System.Collections.Generic.List<string>())).Add(s);
            var table = new string[max + 1][];
            for (int i = 0; i <= max; i++)
                table[i] = lists[i] == null ? new string[0] : lists[i].ToArray();
            return table;
        }

        public static string Get(byte* p, int len)
        {
            if (len > 0 && len < ByLength.Length)
            {
                foreach (string s in ByLength[len])
                {
                    int i = 0;
                    while (i < len && p[i] == s[i])
                        i++;
                    if (i == len)
                        return s;
                }
            }
            return RequestView.Latin1(p, len);
        }
    }
}
