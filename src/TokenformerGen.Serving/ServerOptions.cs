using System.Net;

namespace TokenformerGen.Serving;

/// <summary>Where a <see cref="TokenformerServer"/> listens and what it accepts.</summary>
public sealed record ServerOptions
{
    /// <summary>The address to listen on: an IP address or <c>localhost</c>. Default: loopback only.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (<see cref="TokenformerServer.Address"/> tells which).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>Largest request body in bytes; a bigger one is refused with 413.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Checks the options and resolves <see cref="Host"/>.</summary>
    /// <exception cref="ArgumentException">The host is not an IP address or <c>localhost</c>, the port is outside 0–65535, or the body limit is under 1.</exception>
    public IPAddress Validate()
    {
        if (Port is < 0 or > IPEndPoint.MaxPort) throw new ArgumentException($"port {Port} is not between 0 and {IPEndPoint.MaxPort}", nameof(Port));
        if (MaxBodyBytes < 1) throw new ArgumentException($"the body limit {MaxBodyBytes} must be at least 1 byte", nameof(MaxBodyBytes));
        if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        return IPAddress.TryParse(Host, out var address) ? address : throw new ArgumentException($"host '{Host}' is not an IP address or localhost", nameof(Host));
    }
}
