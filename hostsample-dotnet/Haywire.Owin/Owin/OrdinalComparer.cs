using System;
using System.Collections.Generic;

namespace Haywire.Owin
{
    /// <summary>
    /// String comparers for the per-request dictionaries: the same equality as StringComparer.Ordinal and
    /// OrdinalIgnoreCase, with a plain hash that neither allocates nor runs Marvin (on Mono, OrdinalIgnoreCase
    /// hashes an upper-cased copy of the string).
    /// </summary>
    internal sealed class OrdinalComparer : IEqualityComparer<string>
    {
        public static readonly OrdinalComparer Instance = new OrdinalComparer();

        public bool Equals(string x, string y)
        {
            return string.Equals(x, y);
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
                    h = (h ^ s[i]) * 16777619;
                }
                return (int)h;
            }
        }
    }
}
