using System;
using System.Collections;
using System.Collections.Generic;

namespace Haywire.Owin
{
    /// <summary>
    /// Request or response headers as OWIN 1.0 §3.3 wants them: an
    /// <c>IDictionary&lt;string, string[]&gt;</c> whose names compare with
    /// OrdinalIgnoreCase and whose value arrays are copies both ways — what the
    /// application gets and what it stores — so a change reaches the dictionary
    /// only through <c>headers[name] = array</c> or <c>Remove</c>.
    /// Request headers are filled on first use (most applications never read them);
    /// response headers turn read-only once they were sent.
    /// </summary>
    public sealed class HeaderDictionary : IDictionary<string, string[]>
    {
        private Dictionary<string, string[]> _entries;
        private IHeaderSource _source; // fills _entries on first use, then null
        private string _readOnlyReason;

        // A response's entries, emptied once the engine took the response (Recycle), serve the next
        // response on the same thread: the pump answers request after request, and a dictionary with its
        // arrays was three allocations per response.
        [ThreadStatic] private static Dictionary<string, string[]> _spare;
        private static readonly Dictionary<string, string[]> NoEntries =
            new Dictionary<string, string[]>(0, OrdinalIgnoreCaseComparer.Instance);
        private const int SpareMaxEntries = 32;

        public HeaderDictionary()
        {
        }

        internal HeaderDictionary(IHeaderSource source)
        {
            _source = source;
        }

        private Dictionary<string, string[]> Entries
        {
            get
            {
                if (_entries == null)
                {
                    Dictionary<string, string[]> entries = _spare;
                    if (entries != null)
                    {
                        _spare = null;
                    }
                    else
                    {
                        entries = new Dictionary<string, string[]>(OrdinalIgnoreCaseComparer.Instance);
                    }
                    var source = _source;
                    _source = null;
                    if (source != null)
                    {
                        source.FillHeaders(entries);
                    }
                    _entries = entries;
                }
                return _entries;
            }
        }

        /// <summary>Makes later changes throw InvalidOperationException with this reason.</summary>
        internal void MakeReadOnly(string reason)
        {
            _readOnlyReason = reason;
        }

        /// <summary>
        /// For the server, once the response went to the engine (read-only by then): its entries go to this
        /// thread's next response; this dictionary reads as empty from here (an application that kept it past
        /// its call sees no headers, never another response's).
        /// </summary>
        internal void Recycle()
        {
            Dictionary<string, string[]> entries = _entries;
            if (_readOnlyReason == null || entries == null || ReferenceEquals(entries, NoEntries))
            {
                return;
            }
            _entries = NoEntries;
            if (entries.Count <= SpareMaxEntries)
            {
                entries.Clear();
                _spare = entries;
            }
        }

        /// <summary>The stored array itself, no copy: for the server's own reads.</summary>
        internal bool TryGetRaw(string name, out string[] values)
        {
            return Entries.TryGetValue(name, out values);
        }

        /// <summary>The entries themselves, no copies: for the server's own reads.</summary>
        internal Dictionary<string, string[]> RawEntries
        {
            get { return Entries; }
        }

        /// <summary>Appends a value to a header, for the server while filling.</summary>
        internal static void Append(Dictionary<string, string[]> entries, string name, string value)
        {
            string[] old;
            if (entries.TryGetValue(name, out old))
            {
                var grown = new string[old.Length + 1];
                Array.Copy(old, grown, old.Length);
                grown[old.Length] = value;
                entries[name] = grown;
            }
            else
            {
                entries.Add(name, new[] { value });
            }
        }

        private void CheckWritable()
        {
            if (_readOnlyReason != null)
            {
                throw new InvalidOperationException(_readOnlyReason);
            }
        }

        private static string[] Copy(string[] values)
        {
            if (values == null)
            {
                return null;
            }
            // Not Clone: on Mono that is a call into the runtime, several times the cost of a small copy.
            var copy = new string[values.Length];
            for (int i = 0; i < copy.Length; i++)
            {
                copy[i] = values[i];
            }
            return copy;
        }

        public string[] this[string key]
        {
            get
            {
                string[] values;
                if (!Entries.TryGetValue(key, out values))
                {
                    throw new KeyNotFoundException("no header named " + key);
                }
                return Copy(values);
            }
            set
            {
                CheckWritable();
                Entries[key] = Copy(value);
            }
        }

        public ICollection<string> Keys
        {
            get { return new List<string>(Entries.Keys); }
        }

        public ICollection<string[]> Values
        {
            get
            {
                var list = new List<string[]>(Entries.Count);
                foreach (var values in Entries.Values)
                {
                    list.Add(Copy(values));
                }
                return list;
            }
        }

        public int Count
        {
            get { return Entries.Count; }
        }

        public bool IsReadOnly
        {
            get { return _readOnlyReason != null; }
        }

        public void Add(string key, string[] value)
        {
            CheckWritable();
            Entries.Add(key, Copy(value));
        }

        public void Add(KeyValuePair<string, string[]> item)
        {
            Add(item.Key, item.Value);
        }

        public void Clear()
        {
            CheckWritable();
            Entries.Clear();
        }

        public bool Contains(KeyValuePair<string, string[]> item)
        {
            string[] values;
            // Arrays handed out are copies, so compare contents, not references.
            if (!Entries.TryGetValue(item.Key, out values) || item.Value == null || values.Length != item.Value.Length)
            {
                return false;
            }
            for (int i = 0; i < values.Length; i++)
            {
                if (!string.Equals(values[i], item.Value[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }

        public bool ContainsKey(string key)
        {
            return Entries.ContainsKey(key);
        }

        public void CopyTo(KeyValuePair<string, string[]>[] array, int arrayIndex)
        {
            foreach (var pair in this)
            {
                array[arrayIndex++] = pair;
            }
        }

        public IEnumerator<KeyValuePair<string, string[]>> GetEnumerator()
        {
            foreach (var pair in Entries)
            {
                yield return new KeyValuePair<string, string[]>(pair.Key, Copy(pair.Value));
            }
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        public bool Remove(string key)
        {
            CheckWritable();
            return Entries.Remove(key);
        }

        public bool Remove(KeyValuePair<string, string[]> item)
        {
            return Contains(item) && Remove(item.Key);
        }

        public bool TryGetValue(string key, out string[] value)
        {
            string[] values;
            if (Entries.TryGetValue(key, out values))
            {
                value = Copy(values);
                return true;
            }
            value = null;
            return false;
        }
    }
}
