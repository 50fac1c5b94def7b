namespace Haywire.Owin.Transport.Bridge
{
    /// <summary>The bridge protocol of include/haywire_bridge.h: view and response layouts, CANCEL reasons.</summary>
    internal static class BridgeLayout
    {
        public const ushort CancelDrain = 1;
        public const ushort CancelClientGone = 2;
        public const ushort CancelHostAbort = 3;

        public const int ViewVersion = 2;
        public const uint NoQuery = 0xFFFFFFFFu;
        public const byte MethodOther = 255;

        /// <summary>HW_BRIDGE_METHOD_MAP: the method id is the index of its name here (ids not listed: MethodOther).</summary>
        public static readonly string[] MethodNames =
        {
            "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
            "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH",
            "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE",
        };

        public const ushort ViewKeepAlive = 0x0001;
        public const ushort ViewHead = 0x0002;
        public const ushort ViewExpectContinue = 0x0004;
        public const ushort ViewChunked = 0x0008;
        public const ushort ViewBodyStream = 0x0010;

        public const int SpanOffOffset = 0;
        public const int SpanLenOffset = 4;
        public const int SpanSize = 8;
        public const int FieldNameOffset = 0;                        // a span
        public const int FieldValueOffset = FieldNameOffset + SpanSize; // a span
        public const int FieldEntrySize = FieldValueOffset + SpanSize;
        public const int IpSize = 16;

        public const int ViewVersionOffset = 0;
        public const int ViewFlagsOffset = 2;
        public const int ViewMethodIdOffset = 4;
        public const int ViewMinorOffset = 5;
        public const int ViewFieldCountOffset = 6;
        public const int ViewRequestIdOffset = 8;
        public const int ViewConnIdOffset = 16;
        public const int ViewContentLengthOffset = 24;
        public const int ViewHeadOffOffset = 32;
        public const int ViewHeadLenOffset = 36;
        public const int ViewBodyOffOffset = 40;
        public const int ViewBodyLenOffset = 44;
        public const int ViewMethodSpanOffset = 48;
        public const int ViewRemoteIpOffset = 96;
        public const int ViewLocalIpOffset = 112;
        public const int ViewRemotePortOffset = 128;
        public const int ViewLocalPortOffset = 130;
        public const int ViewTableOffOffset = 132;
        public const int ViewHeaderLen = 136;

        public const int SpanMethod = 0;
        public const int SpanTarget = 1;
        public const int SpanPath = 2;
        public const int SpanQuery = 3;
        public const int SpanAuthority = 4;
        public const int SpanHost = 5;
        public const int SpanCount = 6;

        public const int ResponseStatusOffset = 0;
        public const int ResponseFlagsOffset = 2;
        public const int ResponseReasonLenOffset = 3;
        public const int ResponseFieldsLenOffset = 4;
        public const int ResponseContentLengthOffset = 8;
        public const int ResponseHeadLen = 16;
        public const int ResponseMinStatus = 100;
        public const int ResponseMaxStatus = 999;
        public const int ResponseMaxReason = 255;
        public const byte ResponseStream = 0x01;
    }
}
