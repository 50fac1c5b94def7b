using System;
using System.Collections;
using System.Collections.Generic;

namespace Haywire.Owin
{
    /// <summary>
    /// The OWIN environment of one request: an <c>IDictionary&lt;string, object&gt;</c>
    /// (keys Ordinal, §3.2) over the request view in the shared region. Known keys
    /// are slots materialised on first read (a hello-world application that reads
    /// three keys builds three values); other keys spill into a dictionary created
    /// on first use. Enumeration and Count materialise every known key present.
    /// Values live as long as the request (CommonKeys §4): read after the response
    /// is complete, request-derived values that were never read come back empty, and
    /// so does the response header dictionary of a response sent whole (its storage
    /// serves the next response).
    /// </summary>
    internal sealed class OwinEnvironment : IDictionary<string, object>
    {
        // Known keys, in enumeration order. Their slot is their index.
        internal const int RequestBody = 0;
        internal const int RequestHeaders = 1;
        internal const int RequestMethod = 2;
        internal const int RequestPath = 3;
        internal const int RequestPathBase = 4;
        internal const int RequestProtocol = 5;
        internal const int RequestQueryString = 6;
        internal const int RequestScheme = 7;
        internal const int ResponseBody = 8;
        internal const int ResponseHeaders = 9;
        internal const int ResponseStatusCode = 10;
        internal const int ResponseReasonPhrase = 11;
        internal const int ResponseProtocol = 12;
        internal const int CallCancelled = 13;
        internal const int Version = 14;
        internal const int RequestId = 15;
        internal const int RemoteIpAddress = 16;
        internal const int RemotePort = 17;
        internal const int LocalIpAddress = 18;
        internal const int LocalPort = 19;
        internal const int IsLocal = 20;
        internal const int OnSendingHeaders = 21;
        internal const int Capabilities = 22;
        internal const int TraceOutput = 23;
        internal const int Addresses = 24;
        internal const int OnAppDisposing = 25;
        internal const int SendFileAsync = 26;
        internal const int KnownCount = 27;

        internal static readonly string[] KnownKeys =
        {
            OwinKeys.RequestBody, OwinKeys.RequestHeaders, OwinKeys.RequestMethod, OwinKeys.RequestPath,
            OwinKeys.RequestPathBase, OwinKeys.RequestProtocol, OwinKeys.RequestQueryString, OwinKeys.RequestScheme,
            OwinKeys.ResponseBody, OwinKeys.ResponseHeaders, OwinKeys.ResponseStatusCode,
            OwinKeys.ResponseReasonPhrase, OwinKeys.ResponseProtocol, OwinKeys.CallCancelled, OwinKeys.Version,
            OwinKeys.RequestId, OwinKeys.RemoteIpAddress, OwinKeys.RemotePort, OwinKeys.LocalIpAddress,
            OwinKeys.LocalPort, OwinKeys.IsLocal, OwinKeys.OnSendingHeaders, OwinKeys.Capabilities,
            OwinKeys.TraceOutput, OwinKeys.Addresses, OwinKeys.OnAppDisposing, OwinKeys.SendFileAsync,
        };

        // Known keys by slot + 1 (0: empty), open addressing on a hash of the length and three characters:
        // applications look keys up several times per request, and a whole-string hash plus a Dictionary
        // probe per lookup cost more than the rest of the environment (perf, hello world pipelined).
        private const int TableSize = 128;
        private static readonly byte[] KnownTable = BuildTable();

        // Absent until the application sets them: the engine picks the reason
        // phrase and the status line's version by default.
        private const int AbsentByDefault = (1 << ResponseReasonPhrase) | (1 << ResponseProtocol);

        /// <summary>Marks a known key the request does not provide (e.g. an unknown address).</summary>
        internal static readonly object Absent = new object();

        private readonly OwinCall _call;
        private readonly object[] _values = new object[KnownCount];
        private int _materialised; // bit i: _values[i] holds key i's value
        private int _absent = AbsentByDefault; // bit i: key i is not in the dictionary
        private Dictionary<string, object> _extra;

        public OwinEnvironment(OwinCall call)
        {
            _call = call;
        }

        private static int Hash(string key)
        {
            int n = key.Length;
            return (n * 31 + key[n - 2] * 7 + key[n >> 1] * 3 + key[n - 1]) & (TableSize - 1);
        }

        private static byte[] BuildTable()
        {
            var table = new byte[TableSize];
            for (int i = 0; i < KnownKeys.Length; i++)
            {
                int h = Hash(KnownKeys[i]);
                while (table[h] != 0)
                {
                    h = (h + 1) & (TableSize - 1);
                }
                table[h] = (byte)(i + 1);
            }
            return table;
        }

        /// <summary>The slot of a known key, or -1 for any other key (keys compare Ordinal).</summary>
        internal static int FindKnown(string key)
        {
            if (key.Length < 2)
            {
                return -1;
            }
            int h = Hash(key);
            while (true)
            {
                int entry = KnownTable[h];
                if (entry == 0)
                {
                    return -1;
                }
                string known = KnownKeys[entry - 1];
                if (ReferenceEquals(known, key) || string.Equals(known, key))
                {
                    return entry - 1;
                }
                h = (h + 1) & (TableSize - 1);
            }
        }

        /// <summary>Key i's value, or Absent; materialises it on first read.</summary>
        internal object GetKnown(int slot)
        {
            int bit = 1 << slot;
            if ((_materialised & bit) != 0)
            {
                return _values[slot];
            }
            if ((_absent & bit) != 0)
            {
                return Absent;
            }
            object value = _call.CreateValue(slot);
            if (value == null || value == Absent)
            {
                _absent |= bit;
                return Absent;
            }
            _values[slot] = value;
            _materialised |= bit;
            return value;
        }

        /// <summary>True when the application set or removed key slot itself.</summary>
        internal bool TryGetIfMaterialised(int slot, out object value)
        {
            if ((_materialised & (1 << slot)) != 0)
            {
                value = _values[slot];
                return true;
            }
            value = null;
            return false;
        }

        internal void SetKnown(int slot, object value)
        {
            _values[slot] = value;
            _materialised |= 1 << slot;
            _absent &= ~(1 << slot);
        }

        private bool RemoveKnown(int slot)
        {
            bool present = GetKnown(slot) != Absent;
            _values[slot] = null;
            _materialised &= ~(1 << slot);
            _absent |= 1 << slot;
            return present;
        }

        public object this[string key]
        {
            get
            {
                object value;
                if (!TryGetValue(key, out value))
                {
                    throw new KeyNotFoundException("the OWIN environment has no key \"" + key + "\"");
                }
                return value;
            }
            set
            {
                if (key == null)
                {
                    throw new ArgumentNullException("key");
                }
                int slot = FindKnown(key);
                if (slot >= 0)
                {
                    SetKnown(slot, value);
                    return;
                }
                if (_extra == null)
                {
                    _extra = new Dictionary<string, object>(StringComparer.Ordinal);
                }
                _extra[key] = value;
            }
        }

        public bool TryGetValue(string key, out object value)
        {
            if (key == null)
            {
                throw new ArgumentNullException("key");
            }
            int slot = FindKnown(key);
            if (slot >= 0)
            {
                object known = GetKnown(slot);
                if (known == Absent)
                {
                    value = null;
                    return false;
                }
                value = known;
                return true;
            }
            if (_extra != null)
            {
                return _extra.TryGetValue(key, out value);
            }
            value = null;
            return false;
        }

        public bool ContainsKey(string key)
        {
            object unused;
            return TryGetValue(key, out unused);
        }

        public void Add(string key, object value)
        {
            if (ContainsKey(key))
            {
                throw new ArgumentException("the OWIN environment already has the key \"" + key + "\"", "key");
            }
            this[key] = value;
        }

        public bool Remove(string key)
        {
            if (key == null)
            {
                throw new ArgumentNullException("key");
            }
            int slot = FindKnown(key);
            if (slot >= 0)
            {
                return RemoveKnown(slot);
            }
            return _extra != null && _extra.Remove(key);
        }

        public ICollection<string> Keys
        {
            get
            {
                var keys = new List<string>(KnownCount);
                foreach (var pair in this)
                {
                    keys.Add(pair.Key);
                }
                return keys;
            }
        }

        public ICollection<object> Values
        {
            get
            {
                var values = new List<object>(KnownCount);
                foreach (var pair in this)
                {
                    values.Add(pair.Value);
                }
                return values;
            }
        }

        public int Count
        {
            get
            {
                int count = 0;
                for (int i = 0; i < KnownCount; i++)
                {
                    if (GetKnown(i) != Absent)
                    {
                        count++;
                    }
                }
                return count + (_extra == null ? 0 : _extra.Count);
            }
        }

        public bool IsReadOnly
        {
            get { return false; }
        }

        public void Add(KeyValuePair<string, object> item)
        {
            Add(item.Key, item.Value);
        }

        public void Clear()
        {
            for (int i = 0; i < KnownCount; i++)
            {
                _values[i] = null;
            }
            _materialised = 0;
            _absent = ~0;
            _extra = null;
        }

        public bool Contains(KeyValuePair<string, object> item)
        {
            object value;
            return TryGetValue(item.Key, out value) && Equals(value, item.Value);
        }

        public void CopyTo(KeyValuePair<string, object>[] array, int arrayIndex)
        {
            foreach (var pair in this)
            {
                array[arrayIndex++] = pair;
            }
        }

        public bool Remove(KeyValuePair<string, object> item)
        {
            return Contains(item) && Remove(item.Key);
        }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            for (int i = 0; i < KnownCount; i++)
            {
                object value = GetKnown(i);
                if (value != Absent)
                {
                    yield return new KeyValuePair<string, object>(KnownKeys[i], value);
                }
            }
            if (_extra != null)
            {
                foreach (var pair in _extra)
                {
                    yield return pair;
                }
            }
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }
    }
}
