namespace Haywire.Owin.Transport
{
    /// <summary>Attach found no file of that name in the region directories.</summary>
    public sealed class RegionNotFoundException : HaywireException
    {
        public RegionNotFoundException(string message) : base(message) { }
    }
}
