using TokenformerGen.Text.Data;
using TokenformerGen.Text.Data.Unicode;

namespace TokenformerGen.Text.Tests.Data;

/// <summary>
/// NFC composition (<see cref="Nfc"/>). Every expected string was produced by CPython's
/// <c>unicodedata.normalize('NFC', s)</c> (Unicode 14.0.0), not by this code.
/// </summary>
public sealed class NfcTests
{
    [Theory]
    [InlineData("e\u0301", "\u00E9")]                                   // a base and its accent compose
    [InlineData("A\u030A\u0301", "\u01FA")]                             // a composite composes again
    [InlineData("\u212B", "\u00C5")]                                    // a singleton (Ångström sign) becomes the letter
    [InlineData("a\u0328\u0301", "\u0105\u0301")]                       // the first mark composes, the second cannot
    [InlineData("a\u0301\u0328", "\u0105\u0301")]                       // marks reordered by class before composing
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]                        // Hangul L V T
    [InlineData("\uAC00\u11A8", "\uAC01")]                              // Hangul LV + T
    [InlineData("\u0958", "\u0915\u093C")]                              // a composition exclusion stays decomposed
    [InlineData("\u0344", "\u0308\u0301")]                              // a non-starter decomposition
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]                      // no composite: only reordered
    [InlineData("o\u031B\u0323\u0302", "\u1EE3\u0302")]                 // two marks compose, the third is blocked
    [InlineData("\u1E0B\u0323", "\u1E0D\u0307")]
    [InlineData("\U0001D15E", "\U0001D157\U0001D165")]                  // outside the BMP, excluded
    [InlineData("x\u0301\u0300e\u0300\u0301", "x\u0301\u0300\u00E8\u0301")]
    [InlineData("\u0301e", "\u0301e")]                                  // a leading mark has no starter
    [InlineData("\u00C5\u0327", "\u00C5\u0327")]
    [InlineData("\U00011099\U000110BA", "\U0001109A")]                  // a supplementary-plane composite
    [InlineData("caf\u00E9 nai\u0308ve \u00C5ngstro\u0308m", "caf\u00E9 na\u00EFve \u00C5ngstr\u00F6m")]
    [InlineData("plain ASCII and Latin-1 \u00E9", "plain ASCII and Latin-1 \u00E9")]
    public void ComposesAsCPythonDoes(string text, string expected) => Assert.Equal(expected, Nfc.Normalize(text));

    [Fact]
    public void AnUnpairedSurrogatePassesThrough() => Assert.Equal("a\uD800\u00E9", Nfc.Normalize("a\uD800e\u0301"));

    [Fact]
    public void TheNeoXTokenizerEncodesTextAsItsNfcForm()
    {
        var tok = NeoXTokenizer.Instance;
        Assert.True(tok.AppliesNfc);
        Assert.Equal(tok.Encode("caf\u00E9 na\u00EFve"), tok.Encode("cafe\u0301 nai\u0308ve"));
    }
}
