//! The browser's time zones for the core: [`IntlZones`] answers a zone's UTC offset at an
//! instant from `Intl.DateTimeFormat` (`timeZoneName: "longOffset"`, read by
//! `calltrail_core::zone::parse_gmt_offset`), the rep's own zone from its resolved options, and
//! the machine's offset from a plain `Date` (so a worker start with stored tables that still
//! serve makes no Intl formatter at all).
//! The core builds its offset tables from these answers (`calltrail_core::zone`), so the module
//! carries no tz database: the browser's ICU has every zone already.

use std::cell::RefCell;

use js_sys::{Array, Date, Intl, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use calltrail_core::zone::{parse_gmt_offset, ZoneSource};

#[wasm_bindgen]
extern "C" {
    /// `Intl.DateTimeFormat(locales, options)`, which throws a RangeError for a zone the
    /// browser does not know (js-sys's constructor cannot say so).
    #[wasm_bindgen(catch, js_namespace = Intl, js_name = DateTimeFormat)]
    fn date_time_format(locales: &JsValue, options: &JsValue) -> Result<Intl::DateTimeFormat, JsValue>;
}

/// One formatter per zone asked for (`None`: the browser does not know it), made once per
/// worker start: making one costs far more than formatting with it.
#[derive(Default)]
pub struct IntlZones {
    formatters: RefCell<Vec<(String, Option<Intl::DateTimeFormat>)>>,
}

impl std::fmt::Debug for IntlZones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntlZones")
    }
}

impl IntlZones {
    fn formatter(&self, zone: &str) -> Option<Intl::DateTimeFormat> {
        if let Some((_, f)) = self.formatters.borrow().iter().find(|(z, _)| z == zone) {
            return f.clone();
        }
        let options = Object::new();
        let set = |k: &str, v: &str| Reflect::set(&options, &JsValue::from_str(k), &JsValue::from_str(v)).is_ok();
        let made = (set("timeZone", zone) && set("timeZoneName", "longOffset"))
            .then(|| date_time_format(&JsValue::from_str("en-US"), &options).ok())
            .flatten();
        self.formatters.borrow_mut().push((zone.to_owned(), made.clone()));
        made
    }
}

impl ZoneSource for IntlZones {
    fn offset_secs(&self, zone: &str, at_ms: i64) -> Option<i32> {
        let f = self.formatter(zone)?;
        let parts: Array = f.format_to_parts(&Date::new(&JsValue::from_f64(at_ms as f64)));
        parts.iter().find_map(|p| {
            let kind = Reflect::get(&p, &JsValue::from_str("type")).ok()?.as_string()?;
            if kind != "timeZoneName" {
                return None;
            }
            parse_gmt_offset(&Reflect::get(&p, &JsValue::from_str("value")).ok()?.as_string()?)
        })
    }

    fn local_offset_secs(&self, at_ms: i64) -> Option<i32> {
        // `getTimezoneOffset` is minutes west of UTC, and needs no Intl formatter.
        let west = Date::new(&JsValue::from_f64(at_ms as f64)).get_timezone_offset();
        west.is_finite().then(|| -(west * 60.0) as i32)
    }

    fn local_zone(&self) -> Option<String> {
        let f = date_time_format(&JsValue::UNDEFINED, &JsValue::UNDEFINED).ok()?;
        let zone = Reflect::get(&f.resolved_options(), &JsValue::from_str("timeZone")).ok()?;
        zone.dyn_into::<js_sys::JsString>().ok().map(String::from)
    }
}
