import Foundation

/// Power spectrum of a real frame: radix-2 FFT of size `n` (a power of two) with precomputed
/// twiddles and bit-reversal. Preallocated once; `powerSpectrum` allocates nothing.
final class RealFFT {
    let n: Int
    private var re: [Double]
    private var im: [Double]
    private let cosTable: [Double]
    private let sinTable: [Double]
    private let bitReverse: [Int]

    init(size n: Int) {
        precondition(n >= 4 && n & (n - 1) == 0, "FFT size must be a power of two")
        self.n = n
        re = Array(repeating: 0, count: n)
        im = Array(repeating: 0, count: n)
        cosTable = (0..<n / 2).map { cos(2 * Double.pi * Double($0) / Double(n)) }
        sinTable = (0..<n / 2).map { -sin(2 * Double.pi * Double($0) / Double(n)) }
        let bits = n.trailingZeroBitCount
        bitReverse = (0..<n).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return r
        }
    }

    /// |X[k]|² for k in 0…n/2 of `input` (zero-padded to n) written to `power` (count n/2 + 1).
    func powerSpectrum(_ input: UnsafeBufferPointer<Double>, into power: UnsafeMutableBufferPointer<Double>) {
        re.withUnsafeMutableBufferPointer { re in
            im.withUnsafeMutableBufferPointer { im in
                bitReverse.withUnsafeBufferPointer { rev in
                    for i in 0..<n {
                        let j = rev[i]
                        re[j] = i < input.count ? input[i] : 0
                        im[j] = 0
                    }
                }
                cosTable.withUnsafeBufferPointer { ct in
                    sinTable.withUnsafeBufferPointer { st in
                        var size = 2
                        while size <= n {
                            let half = size / 2
                            let step = n / size
                            var start = 0
                            while start < n {
                                var t = 0
                                for k in start..<(start + half) {
                                    let wr = ct[t], wi = st[t]
                                    let xr = re[k + half], xi = im[k + half]
                                    let tr = wr * xr - wi * xi
                                    let ti = wr * xi + wi * xr
                                    re[k + half] = re[k] - tr
                                    im[k + half] = im[k] - ti
                                    re[k] += tr
                                    im[k] += ti
                                    t += step
                                }
                                start += size
                            }
                            size *= 2
                        }
                    }
                }
                for k in 0...(n / 2) { power[k] = re[k] * re[k] + im[k] * im[k] }
            }
        }
    }
}
