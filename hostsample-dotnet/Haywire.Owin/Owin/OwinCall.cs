using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    /// <summary>
    /// One request on its way through the application: builds the environment's
    /// values on demand, runs the application delegate, and turns its outcome into
    /// the response (OWIN 1.0 §3.4–§3.6, §6). Runs on a thread-pool thread; the
    /// environment and the streams are the application's to use from one thread at
    /// a time, as OWIN assumes.
    /// </summary>
    internal sealed class OwinCall : IHeaderSource
    {
        private static readonly object BoxedOk = 200;
        private static readonly object BoxedTrue = true;
        private static readonly object BoxedFalse = false;
        private static readonly Action<Task, object> OnAppTaskDone = (task, state) => ((OwinCall)state).Complete(task);
        private static readonly Action<object> OnRequestCancelled = state => ((OwinCall)state).Cancel();

        private readonly ServerContext _server;
        private readonly IHttpExchange _request;
        private readonly OwinEnvironment _env;
        private readonly Action<OwinCall> _onEnded;
        private ResponseBodyStream _responseBody;
        private HeaderDictionary _responseHeaders;

        private object _cancelLock; // created on first use: most calls never see owin.CallCancelled nor a cancel
        private CancellationTokenSource _cancel; // created when the application reads owin.CallCancelled
        private CancellationTokenRegistration _cancelRegistration;
        private bool _cancelRequested;
        private volatile bool _ended;
        private string _method, _path; // for traces: read at the start, the view goes back with the response

        public OwinCall(ServerContext server, IHttpExchange request, Action<OwinCall> onEnded)
        {
            _server = server;
            _request = request;
            _onEnded = onEnded;
            _env = new OwinEnvironment(this);
        }

        public IHttpExchange Request
        {
            get { return _request; }
        }

        public ServerContext Server
        {
            get { return _server; }
        }

        public IDictionary<string, object> Environment
        {
            get { return _env; }
        }

        internal OwinEnvironment Env
        {
            get { return _env; }
        }

        /// <summary>True once the response was handed to the engine (or given up).</summary>
        public bool Ended
        {
            get { return _ended; }
        }

        internal ResponseBodyStream ResponseBodyStream
        {
            get { return _responseBody ?? (_responseBody = new ResponseBodyStream(this)); }
        }

        internal HeaderDictionary ResponseHeadersDictionary
        {
            get { return _responseHeaders ?? (_responseHeaders = new HeaderDictionary()); }
        }

        /// <summary>Runs the application on the calling thread until its Task is returned. Never throws.</summary>
        public void Start()
        {
            try
            {
                StartApp();
            }
            catch (Exception e)
            {
                // A bug of this host, not of the application: keep the pump alive, answer if still possible.
                _server.Trace(Describe() + ": the host failed: " + e);
                if (!_ended)
                {
                    try
                    {
                        if (!_request.Completed)
                        {
                            _request.Abort();
                        }
                    }
                    catch (Exception)
                    {
                        // The engine may be gone.
                    }
                    End();
                }
            }
        }

        private void StartApp()
        {
            _method = _request.Method;
            _path = _request.RawPath;
            string unused;
            if (!PathDecoder.TrySplit(PathDecoder.Decode(_path), _server.PathBase, out unused))
            {
                // Not under the configured base path: not this application's request.
                FinishWith(404, "not under " + _server.PathBase + "\n");
                return;
            }
            Task task;
            try
            {
                task = _server.App(_env);
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }
            if (task == null)
            {
                Fail(new InvalidOperationException("the application returned a null Task"));
                return;
            }
            if (task.IsCompleted)
            {
                Complete(task);
            }
            else
            {
                task.ContinueWith(OnAppTaskDone, this, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        private void Complete(Task task)
        {
            if (task.IsFaulted)
            {
                Exception e = task.Exception;
                var aggregate = e as AggregateException;
                if (aggregate != null && aggregate.InnerExceptions.Count == 1)
                {
                    e = aggregate.InnerExceptions[0];
                }
                Fail(e);
            }
            else if (task.IsCanceled)
            {
                Fail(new TaskCanceledException(task));
            }
            else
            {
                try
                {
                    ResponseBodyStream.Finish();
                }
                catch (Exception e)
                {
                    // OnSendingHeaders callbacks run here when the application wrote nothing.
                    Fail(e);
                    return;
                }
                End();
            }
        }

        /// <summary>The application failed (§6.1): 500 before anything went out, an abort after.</summary>
        private void Fail(Exception e)
        {
            // A cancellation the client's leaving caused is no failure worth a trace.
            bool trace = !(e is OperationCanceledException && _request.Cancelled);
            try
            {
                ResponseBodyStream.FailWith(e, trace);
            }
            catch (Exception sendError)
            {
                _server.Trace(Describe() + ": could not answer the failure: " + sendError.Message);
            }
            End();
        }

        /// <summary>"request ID METHOD /path" for traces (taken when the call started: the view may be gone since).</summary>
        internal string Describe()
        {
            return "request " + _request.RequestId + " " + (_method ?? "?") + " " + (_path ?? "?");
        }

        /// <summary>True once the request's memory went back to the engine: request values can no longer be read.</summary>
        private bool ViewGone
        {
            get { return _ended || _request.Completed; }
        }

        private void FinishWith(int status, string text)
        {
            try
            {
                var body = System.Text.Encoding.UTF8.GetBytes(text);
                var headers = new List<KeyValuePair<string, string>>(1);
                headers.Add(new KeyValuePair<string, string>("Content-Type", "text/plain; charset=utf-8"));
                _request.Respond(status, null, headers, body, 0, body.Length);
            }
            catch (Exception e)
            {
                _server.Trace(Describe() + ": could not answer " + status + ": " + e.Message);
            }
            End();
        }

        private void End()
        {
            _ended = true;
            _cancelRegistration.Dispose();
            _onEnded(this);
        }

        private object CancelLock
        {
            get
            {
                object l = Volatile.Read(ref _cancelLock);
                if (l == null)
                {
                    Interlocked.CompareExchange(ref _cancelLock, new object(), null);
                    l = Volatile.Read(ref _cancelLock);
                }
                return l;
            }
        }

        /// <summary>
        /// Fires owin.CallCancelled: the client went away (the request's token), or the
        /// server failed the request (§6.2) — a write the engine refused, the engine gone.
        /// </summary>
        internal void Cancel()
        {
            CancellationTokenSource cancel;
            lock (CancelLock)
            {
                _cancelRequested = true;
                cancel = _cancel;
            }
            if (cancel != null)
            {
                try
                {
                    cancel.Cancel();
                }
                catch (Exception e)
                {
                    _server.Trace(Describe() + ": a CallCancelled callback threw: " + e.Message);
                }
            }
        }

        private CancellationToken CreateCallCancelled()
        {
            var cancel = new CancellationTokenSource();
            bool cancelNow;
            lock (CancelLock)
            {
                _cancel = cancel;
                cancelNow = _cancelRequested;
            }
            if (cancelNow)
            {
                cancel.Cancel();
            }
            else if (!_ended)
            {
                // Registered on first read only: most requests never look at the token.
                _cancelRegistration = _request.CancellationToken.Register(OnRequestCancelled, this);
            }
            return cancel.Token;
        }

        /// <summary>Builds the value of known key slot, or returns OwinEnvironment.Absent.</summary>
        internal object CreateValue(int slot)
        {
            switch (slot)
            {
                case OwinEnvironment.RequestBody:
                    if (_request.ContentLength == 0 && !_request.BodyStreamed && !_request.Chunked)
                    {
                        return Stream.Null;
                    }
                    return new RequestBodyStream(this);
                case OwinEnvironment.RequestHeaders:
                    return new HeaderDictionary(ViewGone ? null : this);
                case OwinEnvironment.RequestMethod:
                    return ViewGone ? "" : _request.Method;
                case OwinEnvironment.RequestPath:
                case OwinEnvironment.RequestPathBase:
                    SplitPath();
                    object value;
                    _env.TryGetIfMaterialised(slot, out value);
                    return value;
                case OwinEnvironment.RequestProtocol:
                    return _request.HttpMinor == 0 ? "HTTP/1.0" : "HTTP/1.1";
                case OwinEnvironment.RequestQueryString:
                    return ViewGone ? "" : _request.RawQuery;
                case OwinEnvironment.RequestScheme:
                    return "http";
                case OwinEnvironment.ResponseBody:
                    return ResponseBodyStream;
                case OwinEnvironment.ResponseHeaders:
                    return ResponseHeadersDictionary;
                case OwinEnvironment.ResponseStatusCode:
                    return BoxedOk;
                case OwinEnvironment.CallCancelled:
                    return CreateCallCancelled();
                case OwinEnvironment.Version:
                    return OwinKeys.OwinVersion;
                case OwinEnvironment.RequestId:
                    return _request.RequestId.ToString(System.Globalization.CultureInfo.InvariantCulture);
                case OwinEnvironment.RemoteIpAddress:
                    return AddressText(_request.RemoteIp);
                case OwinEnvironment.RemotePort:
                    return PortText(_request.RemoteIp, _request.RemotePort);
                case OwinEnvironment.LocalIpAddress:
                    return AddressText(_request.LocalIp);
                case OwinEnvironment.LocalPort:
                    return PortText(_request.LocalIp, _request.LocalPort);
                case OwinEnvironment.IsLocal:
                    return ComputeIsLocal() ? BoxedTrue : BoxedFalse;
                case OwinEnvironment.OnSendingHeaders:
                    return new Action<Action<object>, object>(ResponseBodyStream.RegisterOnSendingHeaders);
                case OwinEnvironment.Capabilities:
                    return _server.Capabilities;
                case OwinEnvironment.TraceOutput:
                    return _server.TraceOutput;
                case OwinEnvironment.Addresses:
                    return _server.Addresses;
                case OwinEnvironment.OnAppDisposing:
                    return _server.BoxedAppDisposing;
                case OwinEnvironment.SendFileAsync:
                    return new Func<string, long, long?, CancellationToken, Task>(ResponseBodyStream.SendFileAsync);
                default:
                    return OwinEnvironment.Absent;
            }
        }

        /// <summary>Sets RequestPathBase and RequestPath from the decoded path (§5.3, §5.5).</summary>
        private void SplitPath()
        {
            string path = ViewGone ? "/" : PathDecoder.Decode(_request.RawPath);
            string rest;
            if (!PathDecoder.TrySplit(path, _server.PathBase, out rest))
            {
                rest = path; // cannot happen: Start answered 404 for these
            }
            // Only the slots not already read or set by the application.
            object unused;
            if (!_env.TryGetIfMaterialised(OwinEnvironment.RequestPathBase, out unused))
            {
                _env.SetKnown(OwinEnvironment.RequestPathBase, _server.PathBase);
            }
            if (!_env.TryGetIfMaterialised(OwinEnvironment.RequestPath, out unused))
            {
                _env.SetKnown(OwinEnvironment.RequestPath, rest);
            }
        }

        private static bool Known(IPAddress address)
        {
            return address != null && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any);
        }

        private object AddressText(IPAddress address)
        {
            if (ViewGone || !Known(address))
            {
                return OwinEnvironment.Absent;
            }
            return address.ToString();
        }

        private object PortText(IPAddress address, int port)
        {
            if (ViewGone || !Known(address) || port <= 0)
            {
                return OwinEnvironment.Absent;
            }
            return port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        private bool ComputeIsLocal()
        {
            if (ViewGone)
            {
                return false;
            }
            IPAddress remote = _request.RemoteIp;
            if (!Known(remote))
            {
                return false;
            }
            return IPAddress.IsLoopback(remote) || remote.Equals(_request.LocalIp);
        }

        /// <summary>Request headers, filled on first use; Host always present (§5.2).</summary>
        void IHeaderSource.FillHeaders(Dictionary<string, string[]> entries)
        {
            if (ViewGone)
            {
                return; // the view's memory went back to the engine
            }
            int count = _request.FieldCount;
            for (int i = 0; i < count; i++)
            {
                HeaderDictionary.Append(entries, _request.FieldName(i), _request.FieldValue(i));
            }
            string authority = _request.Authority;
            string[] host;
            if (!string.IsNullOrEmpty(authority))
            {
                // §5.2 rule 1: an absolute-form target's authority wins over the Host field.
                entries.Remove("Host");
                entries.Add("Host", new[] { authority });
            }
            else if (!entries.TryGetValue("Host", out host) || host.Length == 0 || string.IsNullOrWhiteSpace(host[0]))
            {
                // §5.2 rule 3: no usable Host field (HTTP/1.0): the address the request came to.
                entries.Remove("Host");
                entries.Add("Host", new[] { LocalAuthority() });
            }
        }

        private string LocalAuthority()
        {
            IPAddress local = _request.LocalIp;
            if (!Known(local))
            {
                return "localhost";
            }
            string text = local.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + local + "]" : local.ToString();
            return _request.LocalPort > 0 && _request.LocalPort != 80 ? text + ":" + _request.LocalPort : text;
        }
    }
}
