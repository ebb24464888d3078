using System;
using System.Text;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// A small indenting writer for generated C#: lines, blocks and indentation, nothing else
/// (no SyntaxFactory, no NormalizeWhitespace). Lines end in '\n' on every platform.
/// </summary>
internal sealed class SourceWriter
{
    private const int IndentSize = 4;
    private readonly StringBuilder _builder = new();

    public int Indentation { get; private set; }

    public void Indent() => Indentation++;

    public void Unindent()
    {
        if (Indentation == 0)
        {
            throw new InvalidOperationException("Unbalanced indentation.");
        }

        Indentation--;
    }

    public void OpenBlock()
    {
        WriteLine("{");
        Indent();
    }

    public void CloseBlock(string suffix = "")
    {
        Unindent();
        WriteLine("}" + suffix);
    }

    /// <summary>Writes each line of <paramref name="text"/> at the current indentation.</summary>
    public void WriteLine(string text)
    {
        var start = 0;
        while (true)
        {
            var newline = text.IndexOf('\n', start);
            var line = newline < 0 ? text.Substring(start) : text.Substring(start, newline - start);
            if (line.Length > 0)
            {
                _builder.Append(' ', Indentation * IndentSize).Append(line);
            }

            _builder.Append('\n');
            if (newline < 0)
            {
                return;
            }

            start = newline + 1;
        }
    }

    public void WriteLine() => _builder.Append('\n');

    public override string ToString() => _builder.ToString();
}
