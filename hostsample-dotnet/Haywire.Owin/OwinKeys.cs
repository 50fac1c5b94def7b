namespace Haywire.Owin
{
    /// <summary>
    /// The environment and startup-property keys this server reads or provides: OWIN 1.0
    /// (spec-owin-1.0.md §3.2, §4), CommonKeys (2015) and the SendFile extension 0.3.0.
    /// Keys compare with StringComparer.Ordinal.
    /// </summary>
    public static class OwinKeys
    {
        // OWIN 1.0, request data (§3.2.1).
        public const string RequestBody = "owin.RequestBody";
        public const string RequestHeaders = "owin.RequestHeaders";
        public const string RequestMethod = "owin.RequestMethod";
        public const string RequestPath = "owin.RequestPath";
        public const string RequestPathBase = "owin.RequestPathBase";
        public const string RequestProtocol = "owin.RequestProtocol";
        public const string RequestQueryString = "owin.RequestQueryString";
        public const string RequestScheme = "owin.RequestScheme";
        public const string RequestId = "owin.RequestId";

        // OWIN 1.0, response data (§3.2.2).
        public const string ResponseBody = "owin.ResponseBody";
        public const string ResponseHeaders = "owin.ResponseHeaders";
        public const string ResponseStatusCode = "owin.ResponseStatusCode";
        public const string ResponseReasonPhrase = "owin.ResponseReasonPhrase";
        public const string ResponseProtocol = "owin.ResponseProtocol";

        // OWIN 1.0, other data (§3.2.3).
        public const string CallCancelled = "owin.CallCancelled";
        public const string Version = "owin.Version";

        // CommonKeys.
        public const string RemoteIpAddress = "server.RemoteIpAddress";
        public const string RemotePort = "server.RemotePort";
        public const string LocalIpAddress = "server.LocalIpAddress";
        public const string LocalPort = "server.LocalPort";
        public const string IsLocal = "server.IsLocal";
        public const string OnSendingHeaders = "server.OnSendingHeaders";
        public const string Capabilities = "server.Capabilities";
        public const string ServerName = "server.Name";
        public const string TraceOutput = "host.TraceOutput";
        public const string Addresses = "host.Addresses";
        public const string OnAppDisposing = "host.OnAppDisposing";

        // SendFile extension.
        public const string SendFileAsync = "sendfile.SendAsync";
        public const string SendFileVersion = "sendfile.Version";

        // Builder properties (Katana's names, so Katana-style middleware finds them).
        public const string BuilderDefaultApp = "builder.DefaultApp";

        /// <summary>The OWIN version this server implements.</summary>
        public const string OwinVersion = "1.0";
    }
}
