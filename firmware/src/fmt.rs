//! Logging shim: `debug!`/`info!`/`warn!`/`error!` go to defmt on the device, to the `log`
//! facade on the host, and to nothing when neither feature is on.
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("features `defmt` and `log` are mutually exclusive: pick one log sink");

macro_rules! log_sink {
    ($level:ident, $($arg:tt)*) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($($arg)*);
        #[cfg(feature = "log")]
        ::log::$level!($($arg)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        {
            // Evaluate nothing, but keep the arguments type-checked.
            let _ = || { let _ = ::core::format_args!($($arg)*); };
        }
    }};
}

macro_rules! debug { ($($arg:tt)*) => { log_sink!(debug, $($arg)*) }; }
macro_rules! info { ($($arg:tt)*) => { log_sink!(info, $($arg)*) }; }
macro_rules! warn { ($($arg:tt)*) => { log_sink!(warn, $($arg)*) }; }
macro_rules! error { ($($arg:tt)*) => { log_sink!(error, $($arg)*) }; }

/// Wraps a `Debug` value for the active log sink: defmt needs `Debug2Format` to print a
/// type that only implements `core::fmt::Debug` (such as a platform's error type).
#[cfg(feature = "defmt")]
pub(crate) fn debug<T: core::fmt::Debug>(value: &T) -> defmt::Debug2Format<'_, T> {
    defmt::Debug2Format(value)
}

/// Wraps a `Debug` value for the active log sink (identity without defmt).
#[cfg(not(feature = "defmt"))]
pub(crate) fn debug<T: core::fmt::Debug>(value: &T) -> &T {
    value
}
