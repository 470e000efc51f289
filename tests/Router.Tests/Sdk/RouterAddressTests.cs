using Router.Sdk;

namespace Router.Tests.Sdk;

public class RouterAddressTests
{
    [Fact]
    public void ToString_ThenParse_RoundTrips()
    {
        var random = new Random(1);
        for (var i = 0; i < 1000; i++)
        {
            var address = TestAddresses.Random(random);
            var text = address.ToString();
            Assert.Equal(71, text.Length);
            Assert.Equal(address, RouterAddress.Parse(text));
            Assert.Equal(address, RouterAddress.Parse(text.Replace("-", "", StringComparison.Ordinal).ToUpperInvariant()));
        }
    }

    [Fact]
    public void Write_ThenRead_PreservesBytesInOrder()
    {
        var bytes = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var address = RouterAddress.Read(bytes);
        Assert.Equal(bytes, address.ToArray());
        Assert.StartsWith("00010203-04050607-", address.ToString(), StringComparison.Ordinal);
        Assert.Equal("00010203", address.ToShortString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("xyz")]
    [InlineData("00010203-04050607-08090a0b-0c0d0e0f-10111213-14151617-18191a1b-1c1d1e1")]
    [InlineData("00010203-04050607-08090a0b-0c0d0e0f-10111213-14151617-18191a1b-1c1d1e1f00")]
    [InlineData("g0010203-04050607-08090a0b-0c0d0e0f-10111213-14151617-18191a1b-1c1d1e1f")]
    public void TryParse_Malformed_ReturnsFalse(string? text) => Assert.False(RouterAddress.TryParse(text, out _));

    [Fact]
    public void CompareTo_OrdersLikeBytes()
    {
        var low = RouterAddress.Read(Enumerable.Repeat((byte)0x01, 32).ToArray());
        var highBytes = Enumerable.Repeat((byte)0x01, 32).ToArray();
        highBytes[31] = 0x02;
        var high = RouterAddress.Read(highBytes);
        Assert.True(low < high);
        Assert.True(high > low);
        Assert.NotEqual(low, high);
        Assert.NotEqual(low.GetHashCode(), high.GetHashCode());
    }
}
