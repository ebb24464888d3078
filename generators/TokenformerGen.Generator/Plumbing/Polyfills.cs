// Language-feature support types that netstandard2.0 lacks (records and init accessors).
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
