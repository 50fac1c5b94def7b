using System.Runtime.CompilerServices;

// The transport's tests check the validators (views, descriptors, headers) directly with malformed input.
[assembly: InternalsVisibleTo("Haywire.Owin.Tests")]
