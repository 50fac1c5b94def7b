using System.Collections.Generic;

namespace Haywire.Owin
{
    /// <summary>Fills a header dictionary on its first use.</summary>
    internal interface IHeaderSource
    {
        void FillHeaders(Dictionary<string, string[]> entries);
    }
}
