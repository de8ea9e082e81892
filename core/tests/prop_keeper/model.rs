//! The generator-side model: what the test believes about the keeper before running it.
//!
//! It only steers generation (mostly address sessions that were added). The reference the
//! keeper is checked against is built from the keeper's outputs by [`crate::observer`]: known
//! sessions, deliveries in flight, who was removed when, and what was produced.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::marker::PhantomData;

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use sessionkeeper_core::Config;

use crate::transitions::{transition, CloseWhy, Sid, Transition, Update};

/// A configuration to run the machine under.
pub trait Profile: Debug + Clone + 'static {
    /// Name printed at start.
    const NAME: &'static str;
    /// Multiplies the longer ticks so they cross this config's timeouts.
    const SCALE: u64;
    /// The keeper's config.
    fn config() -> Config;
}

/// What generation needs to know.
#[derive(Clone, Debug, Default)]
pub struct ModelState {
    /// Pool indexes of sessions believed known (approximate: the keeper also removes sessions
    /// on its own, by expiry and inactivity).
    pub added: BTreeSet<usize>,
    /// Transitions generated so far.
    pub steps: u32,
}

/// The reference state machine.
#[derive(Debug, Clone)]
pub struct KeeperModel<P>(PhantomData<P>);

impl<P: Profile> ReferenceStateMachine for KeeperModel<P> {
    type State = ModelState;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<ModelState> {
        Just(ModelState::default()).boxed()
    }

    fn transitions(state: &ModelState) -> BoxedStrategy<Transition> {
        transition(state, P::SCALE)
    }

    fn apply(mut state: ModelState, transition: &Transition) -> ModelState {
        state.steps += 1;
        match transition {
            Transition::AddSession { id: Sid::Pool(i) } => {
                state.added.insert(*i);
            }
            Transition::RemoveSession { id: Sid::Pool(i), .. } => {
                state.added.remove(i);
            }
            Transition::Update { id: Sid::Pool(i), update: Update::Close(why) } => {
                let terminal = match why {
                    CloseWhy::Code(code) => matches!(code, 401 | 402 | 403 | 405 | 406 | 411),
                    CloseWhy::QrRefsEnded => true,
                    CloseWhy::NoCode | CloseWhy::Bare => false,
                };
                if terminal {
                    state.added.remove(i);
                }
            }
            _ => {}
        }
        state
    }
}
