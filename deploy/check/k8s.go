package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// knownCRDs are custom resources the chart may render; they are checked
// for apiVersion and kind only (their schema lives in the operator).
var knownCRDs = map[string]bool{"monitoring.coreos.com/v1/ServiceMonitor": true}

func checkK8s(files []string, stdout io.Writer) error {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var errs []error
	for _, f := range files {
		_, ferrs := checkFile(decoder, f, stdout)
		errs = append(errs, ferrs...)
	}
	return errors.Join(errs...)
}

// checkFile checks one rendering of the chart: every document, then the
// references between them.
func checkFile(decoder runtime.Decoder, f string, stdout io.Writer) (objs []runtime.Object, errs []error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, []error{err}
	}
	r := utilyaml.NewYAMLReader(bufioReader(b))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, append(errs, fmt.Errorf("%s: %w", f, err))
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := utilyaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s doc %d: %w", f, i, err))
			continue
		}
		if knownCRDs[tm.APIVersion+"/"+tm.Kind] {
			fmt.Fprintf(stdout, "ok   %s (custom resource, not schema-checked)\n", tm.Kind)
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s doc %d (%s %s): %w", f, i, tm.APIVersion, tm.Kind, err))
			continue
		}
		m, _ := obj.(metav1.Object)
		fmt.Fprintf(stdout, "ok   %s %s\n", tm.Kind, m.GetName())
		objs = append(objs, obj)
	}
	for _, err := range crossCheck(objs) {
		errs = append(errs, fmt.Errorf("%s: %w", f, err))
	}
	if len(objs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no manifests", f))
	}
	return objs, errs
}

// crossCheck finds what strict decoding cannot: selectors that select no
// pod template, references to objects that are not rendered, ports and
// probes naming no container port, a config volume with no ConfigMap.
func crossCheck(objs []runtime.Object) []error {
	var errs []error
	deployments := map[string]*appsv1.Deployment{}
	configMaps := map[string]bool{}
	serviceAccounts := map[string]bool{}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			deployments[o.Name] = o
		case *corev1.ConfigMap:
			configMaps[o.Name] = true
		case *corev1.ServiceAccount:
			serviceAccounts[o.Name] = true
		}
	}
	selects := func(what string, sel map[string]string) {
		for _, d := range deployments {
			if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s selects no pod template (%v)", what, sel))
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			errs = append(errs, checkDeployment(o, configMaps, serviceAccounts)...)
		case *corev1.Service:
			selects("Service "+o.Name, o.Spec.Selector)
			for _, p := range o.Spec.Ports {
				if p.TargetPort.StrVal != "" && !hasPort(deployments, p.TargetPort.StrVal) {
					errs = append(errs, fmt.Errorf("Service %s targets port %q no container declares", o.Name, p.TargetPort.StrVal))
				}
			}
		case *policyv1.PodDisruptionBudget:
			if o.Spec.Selector == nil {
				errs = append(errs, fmt.Errorf("PodDisruptionBudget %s has no selector", o.Name))
			} else {
				selects("PodDisruptionBudget "+o.Name, o.Spec.Selector.MatchLabels)
			}
			if (o.Spec.MinAvailable == nil) == (o.Spec.MaxUnavailable == nil) {
				errs = append(errs, fmt.Errorf("PodDisruptionBudget %s needs exactly one of minAvailable and maxUnavailable", o.Name))
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := o.Spec.ScaleTargetRef
			d, ok := deployments[ref.Name]
			if ref.Kind != "Deployment" || !ok {
				errs = append(errs, fmt.Errorf("HorizontalPodAutoscaler %s scales %s %q, which is not rendered", o.Name, ref.Kind, ref.Name))
			} else if d.Spec.Replicas != nil {
				errs = append(errs, fmt.Errorf("Deployment %s sets replicas while HorizontalPodAutoscaler %s scales it (each upgrade would reset the count)", d.Name, o.Name))
			}
			if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas > o.Spec.MaxReplicas {
				errs = append(errs, fmt.Errorf("HorizontalPodAutoscaler %s: minReplicas > maxReplicas", o.Name))
			}
		}
	}
	return errs
}

func checkDeployment(d *appsv1.Deployment, configMaps, serviceAccounts map[string]bool) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("Deployment "+d.Name+": "+format, args...))
	}
	if d.Spec.Selector == nil || !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		bad("selector does not match the pod template's labels")
	}
	pod := d.Spec.Template.Spec
	if sa := pod.ServiceAccountName; sa != "" && sa != "default" && !serviceAccounts[sa] {
		bad("service account %q is not rendered", sa)
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
			bad("volume %s names ConfigMap %q, which is not rendered", v.Name, v.ConfigMap.Name)
		}
	}
	if len(pod.Containers) == 0 {
		bad("no containers")
	}
	for _, c := range pod.Containers {
		if c.Image == "" || strings.HasSuffix(c.Image, ":") {
			bad("container %s has no image tag (%q)", c.Name, c.Image)
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p != nil && p.HTTPGet != nil && p.HTTPGet.Port.StrVal != "" && !ports[p.HTTPGet.Port.StrVal] {
				bad("container %s %s probe names port %q it does not declare", c.Name, name, p.HTTPGet.Port.StrVal)
			}
		}
		mounts := map[string]bool{}
		for _, v := range pod.Volumes {
			mounts[v.Name] = true
		}
		for _, m := range c.VolumeMounts {
			if !mounts[m.Name] {
				bad("container %s mounts volume %q, which the pod does not define", c.Name, m.Name)
			}
		}
	}
	return errs
}

func hasPort(deployments map[string]*appsv1.Deployment, name string) bool {
	for _, d := range deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// stripComments drops YAML comment lines, so a document holding only
// helm's "# Source:" line counts as empty.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// printConfigMap writes data[key] of the first ConfigMap in file.
func printConfigMap(file, key string, w io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	r := utilyaml.NewYAMLReader(bufioReader(b))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: no ConfigMap with key %q", file, key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		var cm corev1.ConfigMap
		if err := utilyaml.Unmarshal(doc, &cm); err != nil || cm.Kind != "ConfigMap" {
			continue
		}
		if v, ok := cm.Data[key]; ok {
			_, err := io.WriteString(w, v)
			return err
		}
	}
}
