//! ListVms in the domain: every sort field in both directions, paged to the end, against
//! an independently computed order; filters alone and combined; case-insensitive name
//! search; stable pages while VMs come and go; tokens bound to their query.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use aetherv_hyperv::{HostId, VmState as AgentState};
use aetherv_inventory::domain::fleet::{Attempt, FleetSettings};
use aetherv_inventory::domain::model::{Vm, VmState};
use aetherv_inventory::domain::order::SortField;
use aetherv_inventory::domain::query::{
    ClusterFilter, TokenError, VmFilter, VmPage, VmQuery, decode_token, fold_name,
};
use aetherv_inventory::domain::store::{Store, StoreSettings};
use support::agent_data::{HostData, VmData};
use time::OffsetDateTime;

const HOSTS: u32 = 24;
const VMS_PER_HOST: u32 = 220; // 5,280 VMs: above the in-place sort limit

fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(id) => id,
        Err(error) => panic!("host id {name}: {error}"),
    }
}

fn host_name(number: u32) -> String {
    format!("hv{number:02}")
}

/// A VM whose fields vary with its number, with deliberate ties.
fn varied(host: u32, number: u32) -> VmData {
    let states = [
        AgentState::Running,
        AgentState::Off,
        AgentState::Saved,
        AgentState::Paused,
        AgentState::Starting,
    ];
    let state = states[(number % 5) as usize];
    VmData::new(host, number)
        .state(state)
        .name(&match number % 4 {
            0 => format!("Web-{:03}", number % 50),
            1 => format!("db-{:03}", number % 50),
            2 => format!("APP-{number:03}"),
            _ => format!("web-{:03}", number % 50),
        })
        .with(|vm| {
            vm.cpu_count = 1 + number % 8;
            vm.memory_startup_bytes = u64::from(1 + number % 6) << 30;
            if state == AgentState::Running {
                vm.memory_assigned_bytes = u64::from(1 + number % 5) << 30;
                vm.uptime_seconds = u64::from(100 + number % 17);
            } else {
                vm.memory_assigned_bytes = 0;
                vm.uptime_seconds = 0;
            }
            match number % 3 {
                0 => vm.ip_addresses.clear(),
                1 => {
                    vm.ip_addresses = vec![IpAddr::from([
                        10,
                        (host % 250) as u8,
                        (number / 200) as u8,
                        (number % 200) as u8,
                    ])]
                }
                _ => {
                    vm.ip_addresses = vec![IpAddr::from([
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        host as u16,
                        number as u16,
                    ])]
                }
            }
        })
}

fn fleet() -> (Store, OffsetDateTime) {
    let store = Store::new(
        StoreSettings {
            fleet: FleetSettings::default(),
            history: 100_000,
            watch_buffer: 64,
        },
        1,
    );
    let names: Vec<HostId> = (1..=HOSTS).map(|n| host(&host_name(n))).collect();
    store.set_configured_hosts(&names);
    let at = OffsetDateTime::now_utc();
    for number in 1..=HOSTS {
        let mut data = HostData::new(&host_name(number));
        if number <= 16 {
            data = data.cluster(&format!("Cluster-{}", (number - 1) / 8));
        }
        for vm in 1..=VMS_PER_HOST {
            data = data.vm(varied(number, vm));
        }
        let Some(ticket) = store.begin_refresh(&host(&host_name(number))) else {
            panic!("configured")
        };
        let applied = store.apply(
            &ticket,
            Ok(&data.0),
            Attempt {
                at,
                duration: Duration::from_millis(50),
            },
        );
        assert!(applied.error.is_none(), "{:?}", applied.error);
    }
    (store, at)
}

/// Every VM, in the order `field` defines, computed without the crate's comparator.
fn expected(
    store: &Store,
    field: SortField,
    descending: bool,
    filter: impl Fn(&Vm) -> bool,
) -> Vec<String> {
    let mut vms: Vec<Vm> = store.read(|fleet| {
        fleet
            .vms()
            .iter()
            .map(|(_, vm)| (**vm).clone())
            .filter(|vm| filter(vm))
            .collect()
    });
    let key = |vm: &Vm| -> (String, i128, Option<IpAddr>) {
        match field {
            SortField::Name => (vm.data.name.to_lowercase(), 0, None),
            SortField::Host => (vm.host.to_string(), 0, None),
            SortField::Cluster => (
                vm.cluster
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                0,
                None,
            ),
            SortField::State => (
                String::new(),
                VmState::ALL
                    .iter()
                    .position(|s| *s == vm.data.state)
                    .map_or(-1, |p| p as i128),
                None,
            ),
            SortField::CpuCount => (String::new(), i128::from(vm.data.cpu_count), None),
            SortField::MemoryAssigned => (
                String::new(),
                i128::from(vm.data.memory_assigned_bytes),
                None,
            ),
            SortField::MemoryStartup => (
                String::new(),
                i128::from(vm.data.memory_startup_bytes),
                None,
            ),
            SortField::CreationTime => (
                String::new(),
                vm.data
                    .creation_time
                    .map_or(i128::MIN, |t| t.unix_timestamp_nanos()),
                None,
            ),
            // Uptime grows the same for everyone: order by how long ago the VM started.
            SortField::Uptime => (
                String::new(),
                vm.data
                    .started_at
                    .map_or(i128::MIN, |t| -t.unix_timestamp_nanos()),
                None,
            ),
            SortField::PrimaryIp => {
                let ips = &vm.data.ip_addresses;
                let primary = ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()).copied();
                (String::new(), 0, primary)
            }
        }
    };
    vms.sort_by(|a, b| key(a).cmp(&key(b)).then(a.id.cmp(&b.id)));
    if descending {
        vms.reverse();
    }
    vms.iter().map(|vm| vm.id.to_string()).collect()
}

fn query(filter: VmFilter, sort: SortField, descending: bool, page_size: usize) -> VmQuery {
    VmQuery {
        filter,
        sort,
        descending,
        page_size,
        after: None,
    }
}

fn next(query: &VmQuery, page: &VmPage) -> Option<VmQuery> {
    let token = page.next_page_token.as_deref()?;
    match decode_token(token, &query.filter, query.sort, query.descending) {
        Ok(cursor) => Some(VmQuery {
            after: Some(cursor),
            ..query.clone()
        }),
        Err(error) => panic!("own token refused: {error}"),
    }
}

/// Every page of a query, concatenated; checks each page's total.
fn all_pages(store: &Store, first: VmQuery) -> Vec<String> {
    let mut ids = Vec::new();
    let mut current = Some(first);
    let mut pages = 0;
    while let Some(query) = current {
        let page = store.list_vms(&query);
        assert!(page.vms.len() <= query.page_size);
        ids.extend(page.vms.iter().map(|vm| vm.id.to_string()));
        current = next(&query, &page);
        if current.is_some() {
            assert_eq!(
                page.vms.len(),
                query.page_size,
                "only the last page is short"
            );
        }
        assert_eq!(page.total, expected_total(store, &query.filter));
        pages += 1;
        assert!(pages < 10_000, "paging does not end");
    }
    ids
}

fn expected_total(store: &Store, filter: &VmFilter) -> usize {
    store.read(|fleet| {
        fleet
            .vms()
            .iter()
            .filter(|(_, vm)| matches(filter, vm))
            .count()
    })
}

fn matches(filter: &VmFilter, vm: &Vm) -> bool {
    filter.host.as_ref().is_none_or(|h| *vm.host == *h)
        && match &filter.cluster {
            ClusterFilter::Any => true,
            ClusterFilter::Standalone => vm.cluster.is_none(),
            ClusterFilter::Named(name) => vm.cluster.as_ref().is_some_and(|c| c.as_str() == name),
        }
        && (filter.states.is_empty() || filter.states.contains(&vm.data.state))
        && vm.data.name.to_lowercase().contains(&filter.name_contains)
}

#[test]
fn every_sort_field_pages_through_everything_in_order_both_ways() {
    let (store, _) = fleet();
    assert_eq!(
        store.read(|fleet| fleet.vms().len()),
        (HOSTS * VMS_PER_HOST) as usize
    );
    for field in SortField::ALL {
        for descending in [false, true] {
            let want = expected(&store, field, descending, |_| true);
            let got = all_pages(&store, query(VmFilter::default(), field, descending, 997));
            assert_eq!(got.len(), want.len(), "{field:?} desc={descending}");
            assert!(
                got == want,
                "{field:?} descending={descending}: order differs"
            );
        }
    }
}

#[test]
fn filters_alone_and_combined_match_and_sort() {
    let (store, _) = fleet();
    let filters = [
        VmFilter {
            host: Some(host("hv03")),
            ..VmFilter::default()
        },
        VmFilter {
            cluster: ClusterFilter::Named("cluster-1".into()),
            ..VmFilter::default()
        },
        VmFilter {
            cluster: ClusterFilter::Standalone,
            ..VmFilter::default()
        },
        VmFilter {
            states: vec![VmState::Off, VmState::Saved],
            ..VmFilter::default()
        },
        VmFilter {
            name_contains: fold_name("WEB-01"),
            ..VmFilter::default()
        },
        VmFilter {
            cluster: ClusterFilter::Named("cluster-0".into()),
            states: vec![VmState::Running],
            name_contains: fold_name("web"),
            ..VmFilter::default()
        },
        VmFilter {
            host: Some(host("hv20")),
            cluster: ClusterFilter::Named("cluster-0".into()),
            ..VmFilter::default()
        },
        VmFilter {
            host: Some(host("nosuchhost")),
            ..VmFilter::default()
        },
    ];
    for filter in filters {
        for (field, descending) in [
            (SortField::Name, false),
            (SortField::MemoryAssigned, true),
            (SortField::PrimaryIp, false),
        ] {
            let want = expected(&store, field, descending, |vm| matches(&filter, vm));
            let got = all_pages(&store, query(filter.clone(), field, descending, 100));
            assert!(
                got == want,
                "{filter:?} {field:?}: {} vs {} ids",
                got.len(),
                want.len()
            );
        }
    }
    // Name search is case-insensitive and a substring.
    let page = store.list_vms(&query(
        VmFilter {
            name_contains: fold_name("Db-04"),
            ..VmFilter::default()
        },
        SortField::Name,
        false,
        1000,
    ));
    assert!(page.total > 0);
    assert!(
        page.vms
            .iter()
            .all(|vm| vm.data.name.to_lowercase().contains("db-04"))
    );
    let none = store.list_vms(&query(
        VmFilter {
            name_contains: fold_name("zzz"),
            ..VmFilter::default()
        },
        SortField::Name,
        false,
        10,
    ));
    assert_eq!(
        (none.total, none.vms.len(), none.next_page_token),
        (0, 0, None)
    );
}

#[test]
fn pages_stay_stable_while_vms_come_and_go() {
    let (store, at) = fleet();
    let first = query(VmFilter::default(), SortField::Name, false, 500);
    let page1 = store.list_vms(&first);
    let Some(last) = page1.vms.last().cloned() else {
        panic!("a page")
    };
    let Some(second) = next(&first, &page1) else {
        panic!("more pages")
    };

    // hv01 loses its VMs named before the cursor and gains one named "aaa" (before
    // everything): the next page still starts right after the last VM seen.
    let mut data = HostData::new("hv01").cluster("Cluster-0");
    for vm in 1..=VMS_PER_HOST {
        if vm % 2 == 0 {
            data = data.vm(varied(1, vm));
        }
    }
    data = data.vm(VmData::new(1, 999).name("aaa-new"));
    let Some(ticket) = store.begin_refresh(&host("hv01")) else {
        panic!("configured")
    };
    store.apply(
        &ticket,
        Ok(&data.0),
        Attempt {
            at: at + Duration::from_secs(30),
            duration: Duration::from_millis(50),
        },
    );

    let page2 = store.list_vms(&second);
    // What should follow: every VM now in the model that sorts after the cursor.
    let cursor = (last.data.name_folded.to_string(), last.id);
    let after: Vec<String> = store.read(|fleet| {
        let mut after: Vec<(String, aetherv_hyperv::VmId)> = fleet
            .vms()
            .iter()
            .map(|(_, vm)| (vm.data.name.to_lowercase(), vm.id))
            .filter(|key| *key > cursor)
            .collect();
        after.sort();
        after.into_iter().map(|(_, id)| id.to_string()).collect()
    });
    let got: Vec<String> = page2.vms.iter().map(|vm| vm.id.to_string()).collect();
    assert_eq!(got.len(), 500);
    assert_eq!(got[..], after[..got.len()]);
    // The name search sees the new name and no longer the removed ones.
    let search = |text: &str| {
        store
            .list_vms(&query(
                VmFilter {
                    name_contains: fold_name(text),
                    ..VmFilter::default()
                },
                SortField::Name,
                false,
                10,
            ))
            .total
    };
    assert_eq!(search("AAA-NEW"), 1);
    assert_eq!(search("aaa-new\u{0}"), 0);
    let seen: Vec<String> = page1.vms.iter().map(|vm| vm.id.to_string()).collect();
    assert!(got.iter().all(|id| !seen.contains(id)), "no VM twice");
}

#[test]
fn tokens_only_work_with_their_own_query() {
    let (store, _) = fleet();
    let first = query(VmFilter::default(), SortField::CpuCount, false, 10);
    let page = store.list_vms(&first);
    let Some(token) = page.next_page_token else {
        panic!("a next page")
    };
    assert!(decode_token(&token, &first.filter, SortField::CpuCount, false).is_ok());
    assert_eq!(
        decode_token(&token, &first.filter, SortField::CpuCount, true),
        Err(TokenError::OtherQuery)
    );
    assert_eq!(
        decode_token(&token, &first.filter, SortField::Name, false),
        Err(TokenError::OtherQuery)
    );
    let other = VmFilter {
        states: vec![VmState::Off],
        ..VmFilter::default()
    };
    assert_eq!(
        decode_token(&token, &other, SortField::CpuCount, false),
        Err(TokenError::OtherQuery)
    );
    for garbage in ["", "x", "MXxub3R8YXxrZXk", &format!("{token}A")] {
        assert!(
            decode_token(garbage, &first.filter, SortField::CpuCount, false).is_err(),
            "{garbage:?}"
        );
    }
}
