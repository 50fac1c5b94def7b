namespace Haywire.Owin.Transport.Bridge
{
    /// <summary>hw_bridge_view_check (haywire_bridge.h section 3), rules V1-V5 exactly, every sum in 64 bits.</summary>
    internal static unsafe class ViewCheck
    {
        public const int Ok = 0;
        public const int EShort = -1;
        public const int EVersion = -2;
        public const int EBounds = -3;
        public const int ESpan = -4;
        public const int EField = -5;

        /// <summary>Validates the n bytes at b as a request view. Returns Ok, or a code with a message naming the values.</summary>
        public static int Check(byte* b, long n, out string error)
        {
            error = null;
            ulong size = (ulong)n;
            if (b == null || n < BridgeLayout.ViewHeaderLen) // V1
            {
                error = "view is " + (b == null ? 0 : size) + " bytes, the fixed header alone is 136";
                return EShort;
            }
            uint version = *(ushort*)(b + BridgeLayout.ViewVersionOffset);
            if (version != BridgeLayout.ViewVersion) // V2
            {
                error = "view version " + version + ", this host reads version 2";
                return EVersion;
            }
            ulong count = *(ushort*)(b + BridgeLayout.ViewFieldCountOffset);
            ulong tabOff = *(uint*)(b + BridgeLayout.ViewTableOffOffset);
            ulong headOff = *(uint*)(b + BridgeLayout.ViewHeadOffOffset);
            ulong headLen = *(uint*)(b + BridgeLayout.ViewHeadLenOffset);
            ulong bodyOff = *(uint*)(b + BridgeLayout.ViewBodyOffOffset);
            ulong bodyLen = *(uint*)(b + BridgeLayout.ViewBodyLenOffset);
            if (tabOff != BridgeLayout.ViewHeaderLen || headOff != tabOff + count * BridgeLayout.FieldEntrySize ||
                bodyOff != headOff + headLen || bodyOff + bodyLen != size) // V3
            {
                error = "table " + tabOff + "+" + count + "x16, head " + headOff + "+" + headLen + ", body " + bodyOff + "+" +
                        bodyLen + " outside " + size + " bytes";
                return EBounds;
            }
            for (int s = 0; s < BridgeLayout.SpanCount; s++) // V4
            {
                byte* span = b + BridgeLayout.ViewMethodSpanOffset + s * BridgeLayout.SpanSize;
                ulong off = *(uint*)(span + BridgeLayout.SpanOffOffset), len = *(uint*)(span + BridgeLayout.SpanLenOffset);
                if (s == BridgeLayout.SpanQuery && len == BridgeLayout.NoQuery)
                    continue;
                if (off + len > headLen)
                {
                    error = "span " + s + " (" + off + "+" + len + ") outside the " + headLen + "-byte head";
                    return ESpan;
                }
            }
            for (ulong i = 0; i < count; i++) // V5
            {
                byte* e = b + tabOff + i * BridgeLayout.FieldEntrySize;
                byte* name = e + BridgeLayout.FieldNameOffset, value = e + BridgeLayout.FieldValueOffset;
                ulong no = *(uint*)(name + BridgeLayout.SpanOffOffset), nl = *(uint*)(name + BridgeLayout.SpanLenOffset);
                ulong vo = *(uint*)(value + BridgeLayout.SpanOffOffset), vl = *(uint*)(value + BridgeLayout.SpanLenOffset);
                if (no + nl > headLen || vo + vl > headLen || nl == 0)
                {
                    error = "header field " + i + (nl == 0 ? " has an empty name" : " outside the head");
                    return EField;
                }
            }
            return Ok;
        }
    }
}
