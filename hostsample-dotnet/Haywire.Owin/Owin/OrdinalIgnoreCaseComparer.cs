using System;
using System.Collections.Generic;

namespace Haywire.Owin
{
    /// <summary>OrdinalIgnoreCase equality, with a hash that is coarser than the equality, never finer.</summary>
    internal sealed class OrdinalIgnoreCaseComparer : IEqualityComparer<string>
    {
        public static readonly OrdinalIgnoreCaseComparer Instance = new OrdinalIgnoreCaseComparer();

        public bool Equals(string x, string y)
        {
            // The same string object first: applications name headers with the same literals response after response.
            return ReferenceEquals(x, y) || string.Equals(x, y, StringComparison.OrdinalIgnoreCase);
        }

        public int GetHashCode(string s)
        {
            if (s == null)
            {
                return 0;
            }
            unchecked
            {
                uint h = 2166136261;
                for (int i = 0; i < s.Length; i++)
                {
                    // Equal strings have equal lengths and pairwise equal characters. ASCII letters fold to upper
                    // case; every non-ASCII character hashes alike, and so do I, S and K, the only ASCII letters
                    // a non-ASCII one may equal (U+0130, U+0131, U+017F, U+212A), whatever the runtime's casing table.
                    uint c = s[i];
                    if (c >= 0x80)
                    {
                        c = 1;
                    }
                    else
                    {
                        if (c >= 'a' && c <= 'z')
                        {
                            c -= 32;
                        }
                        if (c == 'I' || c == 'S' || c == 'K')
                        {
                            c = 1;
                        }
                    }
                    h = (h ^ c) * 16777619;
                }
                return (int)h;
            }
        }
    }
}
