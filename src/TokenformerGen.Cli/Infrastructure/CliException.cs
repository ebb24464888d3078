namespace TokenformerGen.Cli.Infrastructure;

/// <summary>Bad input the user can fix; the message is the one line printed on stderr.</summary>
internal sealed class CliException(string message) : Exception(message);
